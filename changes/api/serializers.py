from rest_framework import serializers

from changes.models import ChangeEvent


class ChangeEventSerializer(serializers.ModelSerializer):
    """Every stored field of a change, with the names of what it points at."""

    pipeline_name = serializers.CharField(source="pipeline.name", default=None, read_only=True)
    team = serializers.CharField(source="pipeline.team.slug", default=None, read_only=True)
    resolved_component = serializers.CharField(
        source="resolved_component.name", default=None, read_only=True
    )
    author = serializers.CharField(source="author.get_username", default=None, read_only=True)

    class Meta:
        model = ChangeEvent
        fields = (
            "id",
            "occurred_at",
            "received_at",
            "component",
            "resolved_component",
            "environment",
            "kind",
            "outcome",
            "summary",
            "description",
            "triggered_by",
            "version",
            "commit",
            "links",
            "metadata",
            "pipeline",
            "pipeline_name",
            "team",
            "author",
            "idempotency_key",
            "correlated_at",
        )
        read_only_fields = fields


class IngestAnswerSerializer(serializers.Serializer):
    """202 recorded/duplicate with the change's id; 200 ignored with the reason."""

    id = serializers.IntegerField(
        required=False, help_text="the stored change: GET /api/v1/changes/<id>"
    )
    status = serializers.ChoiceField(choices=("recorded", "duplicate", "ignored"))
    reason = serializers.CharField(required=False)
