"""The configuration API for deployment pipelines and alert sources.

The same endpoints for both, under /api/v1/pipelines and /api/v1/alert-sources: list, create
(the key, secret and URL are in that answer once), change, enable or disable, delete, rotate the
key or the secret (shown once), and the delivery log. Views check who may (teams.api.permissions)
and validate the shape; pipelines.services writes, audits and owns the rules.
"""

from typing import Any, ClassVar

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api_errors import ErrorSerializer
from pipelines import services
from pipelines.api.serializers import (
    AlertSourceSerializer,
    DeliverySerializer,
    IntegrationFields,
    PipelineSerializer,
    RotatedKeySerializer,
    RotatedSecretSerializer,
    SnsSubscriptionSerializer,
)
from pipelines.deliveries import KEEP_PER_INTEGRATION
from pipelines.endpoints import ingest_url
from pipelines.models import AlertSource, DeploymentPipeline, Integration
from teams.api.permissions import CanAdministerOrReadOnly
from teams.models import Team
from teams.permissions import can_see_deliveries, deliveries_hidden, require_admin

ERRORS = dict.fromkeys((400, 403, 404), ErrorSerializer)


class IntegrationApi(APIView):
    """What every endpoint here shares: the model, its serializer, and who may change it."""

    model: ClassVar[type[Integration]]
    serializer_class: ClassVar[type[IntegrationFields]]
    permission_classes = (CanAdministerOrReadOnly,)

    def team_of(self, integration: Integration) -> Team | None:
        return integration.team

    def get_object(self, pk: int) -> Integration:
        integration = get_object_or_404(self.model.objects.select_related("team"), pk=pk)
        self.check_object_permissions(self.request, integration)
        return integration


class IntegrationsApi(IntegrationApi):
    def get(self, request: Request) -> Response:
        integrations = self.model.objects.select_related("team")
        return Response(self.serializer_class(integrations, many=True).data)

    def post(self, request: Request) -> Response:
        body = self.serializer_class(data=request.data)
        body.is_valid(raise_exception=True)
        require_admin(request.user, body.validated_data.get("team"))
        integration, key = services.create_integration(
            model=self.model, by=request.user, **body.validated_data
        )
        shown = {"key": key, "secret": integration.secret, "url": ingest_url(integration, key)}
        return Response({**self.serializer_class(integration).data, **shown}, status=201)


class IntegrationDetailApi(IntegrationApi):
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.serializer_class(self.get_object(pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        integration = self.get_object(pk)
        body = self.serializer_class(integration, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(body.validated_data)
        enabled = fields.pop("enabled", None)
        if "team" in fields and fields["team"] != integration.team:
            require_admin(request.user, fields["team"])  # moving it: admin of both teams
        with transaction.atomic():  # one request, one outcome
            if fields:
                services.update_integration(by=request.user, integration=integration, **fields)
            if enabled is not None:
                services.set_enabled(integration=integration, enabled=enabled, by=request.user)
        return Response(self.serializer_class(integration).data)

    def delete(self, request: Request, pk: int) -> Response:
        services.delete_integration(integration=self.get_object(pk), by=request.user)
        return Response(status=204)


class IntegrationRotateKeyApi(IntegrationApi):
    def post(self, request: Request, pk: int) -> Response:
        integration = self.get_object(pk)
        key = services.rotate_key(integration=integration, by=request.user)
        return Response({"key": key, "url": ingest_url(integration, key)})


class IntegrationRotateSecretApi(IntegrationApi):
    def post(self, request: Request, pk: int) -> Response:
        secret = services.rotate_secret(integration=self.get_object(pk), by=request.user)
        return Response({"secret": secret})


class IntegrationDeliveriesApi(IntegrationApi):
    """The delivery log, payloads included: for the team's members and staff only."""

    def get(self, request: Request, pk: int) -> Response:
        integration = self.get_object(pk)
        if not can_see_deliveries(request.user, integration.team):
            raise exceptions.PermissionDenied(deliveries_hidden(integration.team))
        deliveries = integration.deliveries.order_by("-received_at", "-id")
        return Response(DeliverySerializer(deliveries[:KEEP_PER_INTEGRATION], many=True).data)


def _created(serializer: type[IntegrationFields]) -> dict[str, Any]:
    """The integration, plus its clear key, secret and URL: one schema, only for this answer."""
    shown_once = {
        "key": "the integration key, shown this once (stored hashed)",
        "secret": "the signing secret, shown this once",
        "url": "where the producer sends events, with the key where the path needs it",
    }
    return {
        "allOf": [
            {"$ref": f"#/components/schemas/{serializer.__name__.removesuffix('Serializer')}"},
            {
                "type": "object",
                "properties": {
                    name: {"type": "string", "description": description}
                    for name, description in shown_once.items()
                },
                "required": list(shown_once),
            },
        ]
    }


def _schemas(name: str, one: str, serializer: type[IntegrationFields]) -> dict[str, Any]:
    """The OpenAPI description of each endpoint, for pipelines or alert sources."""
    label = one.replace("_", " ")
    return {
        "list": extend_schema_view(
            get=extend_schema(
                operation_id=f"{name}_list",
                responses=serializer(many=True),
                description=f"Every {label}, by name. Keys and secrets are never shown here.",
            ),
            post=extend_schema(
                operation_id=f"{name}_create",
                request=serializer,
                responses={201: _created(serializer), 400: ErrorSerializer, 403: ErrorSerializer},
                description=f"Create a {label} in a team you administer (staff: any, or none). "
                "The answer carries the clear `key`, `secret` and `url` this once; they are "
                "never shown again (rotate for new ones).",
            ),
        ),
        "detail": extend_schema_view(
            get=extend_schema(
                operation_id=f"{one}_detail",
                responses={200: serializer} | ERRORS,
                description=f"One {label}.",
            ),
            patch=extend_schema(
                operation_id=f"{one}_update",
                request=serializer,
                responses={200: serializer} | ERRORS,
                description="Fields left out keep their value; `enabled` enables or disables. "
                "Moving it to another team needs admin rights on both.",
            ),
            delete=extend_schema(
                operation_id=f"{one}_delete",
                responses={204: None} | ERRORS,
                description=f"Delete the {label}; what it brought in stays.",
            ),
        ),
        "rotate_key": extend_schema_view(
            post=extend_schema(
                operation_id=f"{one}_rotate_key",
                request=None,
                responses={200: RotatedKeySerializer} | ERRORS,
                description="A new key, shown this once; the old key stops working at once.",
            )
        ),
        "rotate_secret": extend_schema_view(
            post=extend_schema(
                operation_id=f"{one}_rotate_secret",
                request=None,
                responses={200: RotatedSecretSerializer} | ERRORS,
                description="A new signing secret, shown this once.",
            )
        ),
        "deliveries": extend_schema_view(
            get=extend_schema(
                operation_id=f"{one}_deliveries",
                responses={
                    200: DeliverySerializer(many=True),
                    403: ErrorSerializer,
                    404: ErrorSerializer,
                },
                description=f"What the last {KEEP_PER_INTEGRATION} requests did, newest first, "
                "payloads included: for the members of its team and staff (403 for others; "
                "an integration without a team: staff only).",
            )
        ),
    }


_PIPELINE = _schemas("pipelines", "pipeline", PipelineSerializer)
_ALERT_SOURCE = _schemas("alert_sources", "alert_source", AlertSourceSerializer)


class PipelineMixin:
    model = DeploymentPipeline
    serializer_class = PipelineSerializer


class AlertSourceMixin:
    model = AlertSource
    serializer_class = AlertSourceSerializer


@_PIPELINE["list"]
class PipelinesApi(PipelineMixin, IntegrationsApi):
    pass


@_PIPELINE["detail"]
class PipelineDetailApi(PipelineMixin, IntegrationDetailApi):
    pass


@_PIPELINE["rotate_key"]
class PipelineRotateKeyApi(PipelineMixin, IntegrationRotateKeyApi):
    pass


@_PIPELINE["rotate_secret"]
class PipelineRotateSecretApi(PipelineMixin, IntegrationRotateSecretApi):
    pass


@_PIPELINE["deliveries"]
class PipelineDeliveriesApi(PipelineMixin, IntegrationDeliveriesApi):
    pass


@_ALERT_SOURCE["list"]
class AlertSourcesApi(AlertSourceMixin, IntegrationsApi):
    pass


@_ALERT_SOURCE["detail"]
class AlertSourceDetailApi(AlertSourceMixin, IntegrationDetailApi):
    pass


@_ALERT_SOURCE["rotate_key"]
class AlertSourceRotateKeyApi(AlertSourceMixin, IntegrationRotateKeyApi):
    pass


@_ALERT_SOURCE["rotate_secret"]
class AlertSourceRotateSecretApi(AlertSourceMixin, IntegrationRotateSecretApi):
    pass


@_ALERT_SOURCE["deliveries"]
class AlertSourceDeliveriesApi(AlertSourceMixin, IntegrationDeliveriesApi):
    pass


class AlertSourceSnsSubscriptionsApi(AlertSourceMixin, IntegrationApi):
    """The SNS subscriptions an alert source was asked to confirm (CloudWatch via SNS)."""

    @extend_schema(
        operation_id="alert_source_sns_subscriptions",
        responses={200: SnsSubscriptionSerializer(many=True), 404: ErrorSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        subscriptions = self.get_object(pk).sns_subscriptions.order_by("-received_at")
        return Response(SnsSubscriptionSerializer(subscriptions, many=True).data)


class AlertSourceSnsSubscriptionConfirmApi(AlertSourceMixin, IntegrationApi):
    """Confirm a pending SNS subscription: visits its SubscribeURL, an SNS endpoint only."""

    @extend_schema(
        operation_id="alert_source_sns_subscription_confirm",
        request=None,
        responses={200: SnsSubscriptionSerializer, 502: ErrorSerializer} | ERRORS,
    )
    def post(self, request: Request, pk: int, subscription_pk: int) -> Response:
        subscriptions = self.get_object(pk).sns_subscriptions
        subscription = services.confirm_sns_subscription(
            subscription=get_object_or_404(subscriptions, pk=subscription_pk),
            by=request.user.get_username(),
        )
        return Response(SnsSubscriptionSerializer(subscription).data)
