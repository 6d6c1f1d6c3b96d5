from typing import ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from changes.api.serializers import ChangeEventSerializer
from common.serializer_fields import StrictCharField
from incidents.models import Alert, Incident, SuspectChange, TimelineEntry
from incidents.presenters import conclusion


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = ("id", "at", "kind", "actor", "data")
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    """One alert of an incident: its own alias, title, severity and status."""

    source = serializers.CharField(source="alert_source.name", default=None, read_only=True)

    class Meta:
        model = Alert
        fields = ("alias", "title", "severity", "status", "started_at", "resolved_at", "source")
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    alert_source = serializers.CharField(source="alert_source.name", default=None, read_only=True)
    team = serializers.CharField(source="team.slug", default=None, read_only=True)
    components = serializers.SerializerMethodField()
    alerts = AlertSerializer(many=True, read_only=True, help_text="first to last")

    class Meta:
        model = Incident
        fields = (
            "id",
            "title",
            "description",
            "severity",
            "status",
            "alias",
            "alert_source",
            "team",
            "components",
            "environment",
            "tags",
            "links",
            "started_at",
            "last_alert_at",
            "repeat_count",
            "alert_count",
            "alerts",
            "acknowledged_at",
            "resolved_at",
            "resolved_by_rule",
            "correlated_at",
        )
        read_only_fields = fields

    def get_components(self, incident: Incident) -> list[str]:
        return [component.name for component in incident.components.all()]


class SuspectChangeSerializer(serializers.ModelSerializer):
    change = ChangeEventSerializer(read_only=True)

    class Meta:
        model = SuspectChange
        fields = ("rank", "score", "confidence", "reasons", "verdict", "change")
        read_only_fields = fields


class ConclusionSerializer(serializers.Serializer):
    confidence = serializers.ChoiceField(choices=SuspectChange.Confidence.choices)
    text = serializers.CharField()


class IncidentDetailSerializer(IncidentSerializer):
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    conclusion = serializers.SerializerMethodField(
        help_text="what the suspects add up to; null until correlation has run"
    )
    suspects = SuspectChangeSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = (*IncidentSerializer.Meta.fields, "timeline", "conclusion", "suspects")
        read_only_fields = fields

    @extend_schema_field(ConclusionSerializer(allow_null=True))
    def get_conclusion(self, incident: Incident) -> dict | None:
        said = conclusion(
            incident,
            list(incident.suspects.all()),
            [component.name for component in incident.components.all()],
        )
        return None if said is None else {"confidence": said.confidence, "text": said.text}


class IncidentStatusSerializer(serializers.Serializer):
    """PUT/PATCH body: Alert24's `{"status": "resolved"}` and friends."""

    STATUSES: ClassVar[dict[str, str]] = {
        "acknowledged": "acknowledged",
        "acknowledge": "acknowledged",
        "resolved": "resolved",
        "resolve": "resolved",
        "closed": "resolved",
        "triggered": "triggered",
        "open": "triggered",
        "reopen": "triggered",
        "reopened": "triggered",
    }

    status = StrictCharField()

    def validate_status(self, value: str) -> str:
        status = self.STATUSES.get(value.strip().lower())
        if status is None:
            raise serializers.ValidationError("Use acknowledged, resolved or triggered.")
        return status


class NoteSerializer(serializers.Serializer):
    text = StrictCharField(max_length=10_000)


class AlertResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    alias = serializers.CharField(allow_blank=True)
    action = serializers.ChoiceField(
        choices=(
            "raised",
            "grouped",
            "repeat",
            "reopened",
            "acknowledged",
            "resolved",
            "ignored",
        ),
        help_text="`grouped`: the alert joined the open incident `id` of its storm",
    )
    status = serializers.CharField(allow_null=True)
    reason = serializers.CharField(required=False)


class AlertIngestSerializer(AlertResultSerializer):
    results = AlertResultSerializer(many=True)
