"""Alert ingest (one endpoint per producer format) and the incidents API (Alert24-compatible)."""

from collections.abc import Mapping
from datetime import datetime
from types import ModuleType
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from common.api_errors import ErrorSerializer
from common.pagination import MAX_API_PAGE_SIZE, keyset_api_page
from common.payloads import Ignored, PayloadInvalid
from incidents import selectors, services
from incidents.adapters import (
    alert24,
    alertmanager,
    cloudwatch_sns,
    devops_agent,
    eventbridge,
    grafana,
    pagerduty,
)
from incidents.api.authentication import AlertSourceKeyAuthentication, IsPersonOrAlertSource
from incidents.api.filters import IncidentFilter
from incidents.api.serializers import (
    AlertIngestSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    IncidentStatusSerializer,
    NoteSerializer,
    TimelineEntrySerializer,
)
from incidents.models import Alert, Incident
from pipelines.deliveries import record_delivery
from pipelines.ingest import IngestApi, IngestResult, ingest_schema
from pipelines.models import AlertSource, Delivery
from pipelines.services import record_sns_subscription
from pipelines.sns import verify_sns_message

ADAPTERS: dict[str, ModuleType] = {
    AlertSource.Kind.GENERIC: alert24,
    AlertSource.Kind.CLOUDWATCH_SNS: cloudwatch_sns,
    AlertSource.Kind.EVENTBRIDGE: eventbridge,
    AlertSource.Kind.ALERTMANAGER: alertmanager,
    AlertSource.Kind.GRAFANA: grafana,
    AlertSource.Kind.WEBHOOK: devops_agent,
    AlertSource.Kind.PAGERDUTY: pagerduty,
}
READ_AUTHENTICATION = tuple(api_settings.DEFAULT_AUTHENTICATION_CLASSES)


class AlertIngestApi(IngestApi):
    """Apply alerts. The alert source's kind decides which producer format the body is read as."""

    integration_model = AlertSource

    def adapter_for(self, source: AlertSource) -> ModuleType:
        return ADAPTERS[source.kind]

    def event_type(self, request: Request, payload: Any) -> str:
        if "x-amz-sns-message-type" in request.headers:
            return request.headers["x-amz-sns-message-type"][:100]
        if isinstance(payload, Mapping):
            for field in ("detail-type", "event_action", "action", "status"):
                if isinstance(payload.get(field), str):
                    return payload[field][:100]
        return ""

    def ingest(
        self,
        *,
        request: Request,
        integration: AlertSource,
        payload: Any,
        body: bytes,
        received_at: datetime,
        signature: str,
    ) -> IngestResult:
        # The signature was checked (pipelines.ingest); process_alerts remembers it.
        if integration.kind == AlertSource.Kind.CLOUDWATCH_SNS:
            envelope = _sns_envelope(integration, payload, received_at)
            if envelope is not None:
                return envelope
        try:
            alerts = self.adapter_for(integration).to_alerts(payload, request.headers)
        except Ignored as ignored:
            return _ignored(ignored.reason, ignored.event_type)
        results = services.process_alerts(
            source=integration,
            alerts=alerts,
            received_at=received_at,
            signature=signature,
            # The delivery record is stored in the same transaction as the alerts.
            delivery=lambda results: self.delivery_for(_accepted(alerts, results)),
        )
        return _accepted(alerts, results)


@ingest_schema("alerts_ingest", AlertIngestSerializer)
class AlertsApi(AlertIngestApi):
    """`/api/v1/alerts`: the key as `Authorization: Bearer`."""

    http_method_names = ("post", "options")


@ingest_schema("alert_source_alerts_ingest", AlertIngestSerializer)
class AlertSourceAlertsApi(AlertIngestApi):
    """`/api/v1/alert-sources/<key>/alerts`: the key in the path (SNS subscriptions, webhooks)."""

    http_method_names = ("post", "options")


@ingest_schema("pagerduty_enqueue", AlertIngestSerializer)
class PagerDutyEventsApi(AlertIngestApi):
    """PagerDuty Events API v2-compatible `/v2/enqueue`: the key is `routing_key` in the body."""

    body_key_field = "routing_key"

    def adapter_for(self, source: AlertSource) -> ModuleType:
        return pagerduty


@ingest_schema("incidents_ingest", AlertIngestSerializer)
class IncidentsApi(AlertIngestApi):
    """`/api/v1/incidents`, Alert24-compatible: POST raises (or resolves, by alias) with the alert
    source's key; GET lists incidents for a person's token or session, or the source's key."""

    def adapter_for(self, source: AlertSource) -> ModuleType:
        return alert24

    read_authentication_classes = (AlertSourceKeyAuthentication, *READ_AUTHENTICATION)
    read_permission_classes = (IsPersonOrAlertSource,)

    @extend_schema(
        operation_id="incidents_list",
        filters=True,
        parameters=[
            OpenApiParameter("cursor", str, description="the `next_cursor` of the previous page"),
            OpenApiParameter("limit", int, description=f"page size, at most {MAX_API_PAGE_SIZE}"),
        ],
        responses=IncidentSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = IncidentFilter(request.query_params, queryset=_visible(request))
        if not filters.is_valid():
            raise exceptions.ValidationError(filters.errors)
        return Response(
            keyset_api_page(
                request, filters.qs, time_field="started_at", serializer=IncidentSerializer
            )
        )


class IncidentDetailApi(APIView):
    """One incident with its timeline; PUT/PATCH `{"status": ...}` acknowledges, resolves or
    reopens it (Alert24's resolve call), for a person or the incident's own alert source."""

    authentication_classes = (AlertSourceKeyAuthentication, *READ_AUTHENTICATION)
    permission_classes = (IsPersonOrAlertSource,)

    @extend_schema(operation_id="incident_detail", responses=IncidentDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(_visible(request, detail=True), pk=pk)
        return Response(IncidentDetailSerializer(incident).data)

    @extend_schema(
        operation_id="incident_update",
        request=IncidentStatusSerializer,
        responses={200: IncidentDetailSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def put(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(_visible(request), pk=pk)
        body = IncidentStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = _actor(request)
        change = {
            "acknowledged": services.acknowledge_incident,
            "resolved": services.resolve_incident,
            "triggered": services.reopen_incident,
        }[body.validated_data["status"]]
        change(incident=incident, actor=actor)
        _log_source_request(request, incident, "incident update")
        incident = get_object_or_404(_visible(request, detail=True), pk=pk)
        return Response(IncidentDetailSerializer(incident).data)

    @extend_schema(
        operation_id="incident_partial_update",
        request=IncidentStatusSerializer,
        responses={200: IncidentDetailSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self.put(request, pk)


class IncidentNotesApi(APIView):
    """Add a note to an incident's timeline."""

    authentication_classes = (AlertSourceKeyAuthentication, *READ_AUTHENTICATION)
    permission_classes = (IsPersonOrAlertSource,)

    @extend_schema(
        operation_id="incident_add_note",
        request=NoteSerializer,
        responses={201: TimelineEntrySerializer, 400: ErrorSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        incident = get_object_or_404(_visible(request), pk=pk)
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = services.add_note(
            incident=incident, actor=_actor(request), text=body.validated_data["text"]
        )
        _log_source_request(request, incident, "note")
        return Response(TimelineEntrySerializer(entry).data, status=201)


def _visible(request: Request, *, detail: bool = False) -> QuerySet[Incident]:
    """People see every incident; an alert source's key sees only the incidents holding one of
    that source's alerts (a storm's incident is seen by each source whose alert joined it)."""
    queryset = selectors.incident_detail() if detail else selectors.incident_list()
    if isinstance(request.auth, AlertSource):
        holding = Alert.objects.filter(alert_source=request.auth).values("incident_id")
        queryset = queryset.filter(Q(alert_source=request.auth) | Q(id__in=holding))
    return queryset


def _actor(request: Request) -> services.Actor:
    if isinstance(request.auth, AlertSource):
        return services.Actor.of_source(request.auth)
    return services.Actor.of_user(request.user)


def _log_source_request(request: Request, incident: Incident, event_type: str) -> None:
    if isinstance(request.auth, AlertSource):
        record_delivery(
            integration=request.auth,
            received_at=timezone.now(),
            event_type=event_type,
            status_code=200,
            outcome=Delivery.Outcome.ACCEPTED,
            reason="",
            body=request.body,
            object_id=incident.pk,
        )


def _sns_envelope(source: AlertSource, payload: Any, received_at: datetime) -> IngestResult | None:
    """Verify an SNS message; answer the subscription messages here, None for a Notification."""
    if not isinstance(payload, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    verify_sns_message(payload)
    message_type = payload["Type"]
    if message_type == "SubscriptionConfirmation":
        with transaction.atomic():
            subscription = record_sns_subscription(
                source=source, message=payload, received_at=received_at
            )
        reason = "subscription confirmation stored; an admin confirms it in Settings"
        return IngestResult(
            status_code=200,
            data={
                "action": "confirm_subscription",
                "topic_arn": subscription.topic_arn,
                "subscribe_url": subscription.subscribe_url,
                "reason": reason,
            },
            outcome=Delivery.Outcome.ACCEPTED,
            event_type=message_type,
            reason=reason,
        )
    if message_type == "UnsubscribeConfirmation":
        return _ignored("UnsubscribeConfirmation is acknowledged and logged", message_type)
    return None


def _accepted(alerts: list, results: list[services.AlertResult]) -> IngestResult:
    rows = [
        {
            "id": result.incident.pk if result.incident else None,
            "alias": alert.alias,
            "action": result.outcome.value,
            "status": result.incident.status if result.incident else None,
            **({"reason": result.reason} if result.reason else {}),
        }
        for alert, result in zip(alerts, results, strict=True)
    ]
    first = rows[0] if rows else {"id": None, "alias": "", "action": "ignored", "status": None}
    reasons = "; ".join(row.get("reason") or f"{row['alias']}: {row['action']}" for row in rows)
    changed = any(row["action"] != "ignored" for row in rows)
    return IngestResult(
        status_code=202 if changed else 200,
        data={**first, "results": rows},
        outcome=Delivery.Outcome.ACCEPTED if changed else Delivery.Outcome.IGNORED,
        event_type=alerts[0].event_type if alerts else "",
        reason=reasons[:500],
        object_id=first["id"],
    )


def _ignored(reason: str, event_type: str) -> IngestResult:
    return IngestResult(
        status_code=200,
        data={
            "id": None,
            "alias": "",
            "action": "ignored",
            "status": None,
            "reason": reason,
            "results": [],
        },
        outcome=Delivery.Outcome.IGNORED,
        event_type=event_type,
        reason=reason,
    )
