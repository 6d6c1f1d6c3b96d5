"""The change ingest endpoints (one per producer format) and the change read API."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import ModuleType
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.generics import RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from changes import noise, selectors, services
from changes.adapters import codepipeline, generic, github, gitlab, ilert, pagerduty
from changes.api.serializers import ChangeEventSerializer, IngestAnswerSerializer
from changes.filters import ChangeFilter
from common.pagination import MAX_API_PAGE_SIZE, keyset_api_page
from common.payloads import Ignored, PayloadInvalid
from pipelines.ingest import IngestApi, IngestResult, ingest_schema
from pipelines.models import Delivery, DeploymentPipeline
from pipelines.signatures import verify_hub_signature, verify_shared_token

ADAPTERS: dict[str, ModuleType] = {
    DeploymentPipeline.Kind.GENERIC: generic,
    DeploymentPipeline.Kind.GITHUB: github,
    DeploymentPipeline.Kind.GITLAB: gitlab,
    DeploymentPipeline.Kind.CODEPIPELINE: codepipeline,
    DeploymentPipeline.Kind.PAGERDUTY: pagerduty,
}
EVENT_TYPE_HEADERS = ("X-GitHub-Event", "X-Gitlab-Event")


class ChangeIngestApi(IngestApi):
    """Record a change. The pipeline's kind decides which producer format the body is read as."""

    integration_model = DeploymentPipeline

    def event_type(self, request: Request, payload: Any) -> str:
        for header in EVENT_TYPE_HEADERS:
            if header in request.headers:
                return request.headers[header][:100]
        if isinstance(payload, Mapping) and isinstance(payload.get("detail-type"), str):
            return payload["detail-type"][:100]
        return ""

    def adapter_for(self, pipeline: DeploymentPipeline) -> ModuleType:
        return ADAPTERS[pipeline.kind]

    def ingest(
        self,
        *,
        request: Request,
        integration: DeploymentPipeline,
        payload: Any,
        body: bytes,
        received_at: datetime,
    ) -> IngestResult:
        verify_producer(integration, request, body)
        adapter = self.adapter_for(integration)
        try:
            change = adapter.to_canonical(payload, request.headers)
        except Ignored as ignored:
            return _ignored(ignored.reason, ignored.event_type)
        reason = noise.noise_reason(integration, change)
        if reason:
            return _ignored(reason, change.event_type)
        if not change.idempotency_key:
            header_key = request.headers.get("Idempotency-Key", "").strip()
            if len(header_key) > 200:
                raise PayloadInvalid("Idempotency-Key", "Use at most 200 characters.")
            change = replace(change, idempotency_key=header_key)
        event, created = services.record_change(
            pipeline=integration, change=change, received_at=received_at
        )
        return IngestResult(
            status_code=202,
            data={"id": event.pk, "status": "recorded" if created else "duplicate"},
            outcome=Delivery.Outcome.ACCEPTED,
            event_type=change.event_type,
            reason="" if created else "duplicate delivery: the first one was kept",
            object_id=event.pk,
        )


@ingest_schema(
    "changes_ingest",
    IngestAnswerSerializer,
    summary="Record a change (generic, Alert24-compatible, or the pipeline's producer format)",
    parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
)
class ChangesApi(ChangeIngestApi):
    """`/api/v1/changes`: POST records a change (integration key), GET lists them (API token)."""

    @extend_schema(
        operation_id="changes_list",
        summary="List changes, newest first, with a keyset cursor",
        parameters=[
            OpenApiParameter("cursor", str, description="the `next_cursor` of the previous page"),
            OpenApiParameter("limit", int, description=f"page size, at most {MAX_API_PAGE_SIZE}"),
        ],
        filters=True,
        responses=ChangeEventSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = ChangeFilter(request.query_params, queryset=selectors.change_feed())
        if not filters.is_valid():
            raise exceptions.ValidationError(filters.errors)
        return Response(
            keyset_api_page(
                request, filters.qs, time_field="occurred_at", serializer=ChangeEventSerializer
            )
        )


@ingest_schema("pipeline_events_ingest", IngestAnswerSerializer)
class PipelineEventsApi(ChangeIngestApi):
    """`/api/v1/pipelines/<key>/events`: the key in the path, for producers that cannot set
    headers (webhooks). Read as the pipeline's kind, like /api/v1/changes."""

    http_method_names = ("post", "options")


@ingest_schema("ilert_deployment_event", IngestAnswerSerializer)
class IlertDeploymentEventsApi(ChangeIngestApi):
    """ilert-compatible `/api/deployment-events`: the key is `integrationKey` in the body."""

    body_key_field = "integrationKey"

    def adapter_for(self, pipeline: DeploymentPipeline) -> ModuleType:
        return ilert


@ingest_schema("pagerduty_change_enqueue", IngestAnswerSerializer)
class PagerDutyChangeEventsApi(ChangeIngestApi):
    """PagerDuty Change Events v2-compatible `/v2/change/enqueue`: the key is `routing_key`."""

    body_key_field = "routing_key"

    def adapter_for(self, pipeline: DeploymentPipeline) -> ModuleType:
        return pagerduty


class ChangeDetailApi(RetrieveAPIView):
    """One change with every stored field."""

    serializer_class = ChangeEventSerializer
    queryset = selectors.change_feed()


def verify_producer(pipeline: DeploymentPipeline, request: Request, body: bytes) -> None:
    """Check the signature of producers that sign, against the pipeline's secret."""
    if not pipeline.secret:
        return
    if pipeline.kind == DeploymentPipeline.Kind.GITHUB:
        verify_hub_signature(
            secret=pipeline.secret, body=body, header=request.headers.get("X-Hub-Signature-256")
        )
    elif pipeline.kind == DeploymentPipeline.Kind.GITLAB:
        verify_shared_token(
            secret=pipeline.secret,
            header_name="X-Gitlab-Token",
            value=request.headers.get("X-Gitlab-Token"),
        )


def _ignored(reason: str, event_type: str) -> IngestResult:
    return IngestResult(
        status_code=200,
        data={"status": "ignored", "reason": reason},
        outcome=Delivery.Outcome.IGNORED,
        event_type=event_type,
        reason=reason,
    )
