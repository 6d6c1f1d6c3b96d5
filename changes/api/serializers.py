from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from changes import selectors
from changes.models import ChangeEvent
from changes.services import MAX_BATCH_SIZE


class ChangeReportSerializer(serializers.ModelSerializer):
    """One pipeline's report of a logical change."""

    pipeline_name = serializers.CharField(source="pipeline.name", default=None, read_only=True)

    class Meta:
        model = ChangeEvent
        fields = ("id", "pipeline", "pipeline_name", "received_at", "outcome")
        read_only_fields = fields


class ChangeEventSerializer(serializers.ModelSerializer):
    """Every stored field of a change, with the names of what it points at, its lifecycle, and
    every report of its logical change."""

    status = serializers.ChoiceField(
        choices=[*ChangeEvent.Outcome.values, ChangeEvent.ROLLED_BACK],
        read_only=True,
        help_text="the outcome, or rolled_back once a rollback undid the change",
    )
    transitions = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text='each report of it, oldest first: {"outcome", "at", "received_at", ...}',
    )
    reports = serializers.SerializerMethodField(
        help_text="every report of its logical change: that change first, then the other "
        "pipelines' reports grouped under it (`same_as`)"
    )
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
            "started_at",
            "finished_at",
            "received_at",
            "status",
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
            "identity",
            "same_as",
            "rolled_back_by",
            "transitions",
            "reports",
            "correlated_at",
        )
        read_only_fields = fields

    @extend_schema_field(ChangeReportSerializer(many=True))
    def get_reports(self, change: ChangeEvent) -> list[dict]:
        return ChangeReportSerializer(selectors.logical_reports(change), many=True).data


class IngestAnswerSerializer(serializers.Serializer):
    """202 recorded/updated/duplicate with the change's id; 200 ignored with the reason."""

    id = serializers.IntegerField(
        required=False, help_text="the stored change: GET /api/v1/changes/<id>"
    )
    status = serializers.ChoiceField(choices=("recorded", "updated", "duplicate", "ignored"))
    reason = serializers.CharField(required=False)


class ChangeBatchSerializer(serializers.Serializer):
    """The batch body, for the OpenAPI schema: `{"changes": [...]}` or the bare list."""

    changes = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_BATCH_SIZE,
        help_text="changes in the generic shape of POST /api/v1/changes, each with an optional "
        "idempotency_key",
    )


class ChangeBatchItemSerializer(serializers.Serializer):
    """What happened to one change of a batch."""

    index = serializers.IntegerField(help_text="its position in `changes`")
    id = serializers.IntegerField(
        allow_null=True,
        help_text="the stored change (recorded, updated or duplicate), else null",
    )
    status = serializers.ChoiceField(
        choices=("recorded", "updated", "duplicate", "invalid", "ignored")
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='invalid only: {"changes.<index>.<field>": [problem]}',
    )
    reason = serializers.CharField(required=False, help_text="ignored only: the noise filter")


class ChangeBatchAnswerSerializer(serializers.Serializer):
    """One result per change, in order, and how many of each."""

    results = ChangeBatchItemSerializer(many=True)
    recorded = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="later reports of changes known by identity")
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()
    ignored = serializers.IntegerField()
