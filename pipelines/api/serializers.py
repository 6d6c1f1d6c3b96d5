"""Shapes of the pipelines and alert-sources API: the configuration file's entries
(pipelines.config_as_code, with its ranges), plus what the API shows of an integration.

The clear key and secret are shown once, by the view that makes them: no serializer here has a
field for either (the file's own `key` and `secret` entries are removed).
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from pipelines.config_as_code import AlertSourceEntry, PipelineEntry
from pipelines.endpoints import ingest_url
from pipelines.models import (
    AlertSource,
    Delivery,
    DeploymentPipeline,
    Integration,
    Severity,
    SnsSubscription,
)
from teams.api.serializers import TeamSlugField

FIRST_FIELDS = ("id", "name", "kind", "team", "enabled")


@extend_schema_field(OpenApiTypes.STR)
class SeverityField(serializers.ChoiceField):
    """Validated as a choice, described as a string: a second enum name for the incidents'
    SeverityEnum would be a schema warning (ENUM_NAME_OVERRIDES could let them share it)."""

    def __init__(self, **kwargs: Any) -> None:
        values = ", ".join(Severity.values)
        super().__init__(choices=Severity.choices, help_text=f"one of {values}", **kwargs)


class IntegrationFields(serializers.Serializer):
    """What pipelines and alert sources show besides their configuration entry."""

    model: type[Integration]

    id = serializers.IntegerField(read_only=True)
    team = TeamSlugField(help_text="team slug, or null (account-wide: staff's)")
    key_prefix = serializers.CharField(read_only=True, help_text="the key's first characters")
    url = serializers.SerializerMethodField(
        help_text="where the producer sends events; `<integration-key>` stands in for the key"
    )
    last_event_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {name: fields[name] for name in FIRST_FIELDS} | fields

    def get_url(self, integration: Integration) -> str:
        return ingest_url(integration, None)

    def validate_name(self, name: str) -> str:
        # The unique constraint, checked like a ModelSerializer would (the services do not).
        others = self.model.objects.filter(name=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(
                f"Another {self.model._meta.verbose_name} has this name."
            )
        return name


class PipelineSerializer(IntegrationFields, PipelineEntry):
    """A deployment pipeline: where change events come from."""

    model = DeploymentPipeline
    key = secret = None  # never read, never set here: the services make them


class AlertSourceSerializer(IntegrationFields, AlertSourceEntry):
    """An alert source: where alerts come from, with its correlation and auto-resolve settings."""

    model = AlertSource
    key = secret = None  # never read, never set here: the services make them

    default_severity = SeverityField(required=False)
    auto_confirm_subscriptions = serializers.BooleanField(required=False)


class RotatedKeySerializer(serializers.Serializer):
    key = serializers.CharField(help_text="the new key, shown this once; the old one is dead")
    url = serializers.CharField(help_text="where the producer sends events with the new key")


class RotatedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="the new signing secret, shown this once")


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = (
            "id",
            "received_at",
            "event_type",
            "status_code",
            "outcome",
            "reason",
            "size",
            "payload",
            "object_id",
        )
        read_only_fields = fields


class SnsSubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SnsSubscription
        fields = ("id", "topic_arn", "received_at", "confirmed_at", "confirmed_by")
        read_only_fields = fields
