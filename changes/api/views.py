"""The change ingest endpoints (one per producer format) and the change read API."""

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from types import ModuleType
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.generics import RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from changes import noise, selectors, services
from changes.adapters import (
    argocd,
    cdevents,
    codepipeline,
    flagsmith,
    flux,
    generic,
    github,
    gitlab,
    ilert,
    jenkins,
    launchdarkly,
    pagerduty,
    terraform_cloud,
    unleash,
)
from changes.adapters.base import CanonicalChange
from changes.api.serializers import (
    ChangeBatchAnswerSerializer,
    ChangeBatchSerializer,
    ChangeEventSerializer,
    IngestAnswerSerializer,
)
from changes.filters import ChangeFilter
from common.api_errors import ErrorSerializer
from common.exceptions import DomainError
from common.pagination import MAX_API_PAGE_SIZE, keyset_api_page
from common.payloads import Ignored, PayloadInvalid
from pipelines.ingest import IngestApi, IngestResult, ingest_schema
from pipelines.models import Delivery, DeploymentPipeline
from pipelines.services import signature_claimed

ADAPTERS: dict[str, ModuleType] = {
    DeploymentPipeline.Kind.GENERIC: generic,
    DeploymentPipeline.Kind.GITHUB: github,
    DeploymentPipeline.Kind.GITLAB: gitlab,
    DeploymentPipeline.Kind.CODEPIPELINE: codepipeline,
    DeploymentPipeline.Kind.PAGERDUTY: pagerduty,
    DeploymentPipeline.Kind.JENKINS: jenkins,
    DeploymentPipeline.Kind.FLUX: flux,
    DeploymentPipeline.Kind.ARGOCD: argocd,
    DeploymentPipeline.Kind.TERRAFORM_CLOUD: terraform_cloud,
    DeploymentPipeline.Kind.LAUNCHDARKLY: launchdarkly,
    DeploymentPipeline.Kind.FLAGSMITH: flagsmith,
    DeploymentPipeline.Kind.UNLEASH: unleash,
    DeploymentPipeline.Kind.CDEVENTS: cdevents,
}
EVENT_TYPE_HEADERS = ("X-GitHub-Event", "X-Gitlab-Event")
# The delivery log's reason for each answer of services.record_change.
INGEST_REASONS = {
    services.RECORDED: "",
    services.UPDATED: "a later report of a known change: now {outcome}",
    services.DUPLICATE: "duplicate delivery: the first one was kept",
}


class PipelineIngestApi(IngestApi):
    """A pipeline's endpoint: what `_record` stores, with the request's signature (checked by
    pipelines.ingest) held against replays meanwhile."""

    integration_model = DeploymentPipeline

    def ingest(
        self,
        *,
        request: Request,
        integration: DeploymentPipeline,
        payload: Any,
        body: bytes,
        received_at: datetime,
        signature: str,
    ) -> IngestResult:
        with signature_claimed(integration=integration, signature=signature, seen_at=received_at):
            return self._record(request, integration, payload, received_at)

    def _record(
        self,
        request: Request,
        integration: DeploymentPipeline,
        payload: Any,
        received_at: datetime,
    ) -> IngestResult:
        raise NotImplementedError


class ChangeIngestApi(PipelineIngestApi):
    """Record a change. The pipeline's kind decides which producer format the body is read as."""

    def event_type(self, request: Request, payload: Any) -> str:
        for header in EVENT_TYPE_HEADERS:
            if header in request.headers:
                return request.headers[header][:100]
        if isinstance(payload, Mapping) and isinstance(payload.get("detail-type"), str):
            return payload["detail-type"][:100]
        return ""

    def adapter_for(self, pipeline: DeploymentPipeline) -> ModuleType:
        return ADAPTERS[pipeline.kind]

    def _record(
        self,
        request: Request,
        integration: DeploymentPipeline,
        payload: Any,
        received_at: datetime,
    ) -> IngestResult:
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
        # A new change is stored with its delivery record, in one statement.
        delivery = self.delivery_for(_accepted(change, None, services.RECORDED))
        event, status = services.record_change(
            pipeline=integration, change=change, received_at=received_at, delivery=delivery
        )
        if status == services.DUPLICATE and change.repeat_reason:
            # A producer that resends an unchanged state (Flux, every interval): noise.
            return _ignored(change.repeat_reason, change.event_type)
        return _accepted(change, event.pk, status)


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
        page = keyset_api_page(
            request, filters.qs, time_field="occurred_at", serializer=ChangeEventSerializer
        )
        # Like the page: a search with a word of one or two letters read the newest changes only.
        return Response({**page, "notice": filters.search_notice or None})


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


@extend_schema_view(
    post=extend_schema(
        operation_id="changes_batch_ingest",
        summary="Record up to 1,000 changes in the generic shape, with a result for each",
        request={"application/json": ChangeBatchSerializer},
        responses={
            202: ChangeBatchAnswerSerializer,
            200: ChangeBatchAnswerSerializer,
            **dict.fromkeys((400, 401, 403, 413, 429), ErrorSerializer),
        },
    )
)
class ChangeBatchIngestApi(PipelineIngestApi):
    """`/api/v1/changes/batch`: many changes of a generic pipeline in one request, for
    high-volume producers. The key, limits and delivery log of /api/v1/changes (one delivery
    record per batch); each change is read as that endpoint reads the generic shape.

    Every change gets a result: the valid ones are committed whatever the others are (202), the
    invalid ones are named by index and field. Only a batch none of whose changes can be read
    is refused as a whole (400).
    """

    http_method_names = ("post", "options")

    def event_type(self, request: Request, payload: Any) -> str:
        return "batch"

    def _record(
        self,
        request: Request,
        integration: DeploymentPipeline,
        payload: Any,
        received_at: datetime,
    ) -> IngestResult:
        if integration.kind != DeploymentPipeline.Kind.GENERIC:
            raise DomainError(
                "Batches take the generic change shape, and this pipeline is of kind "
                f"{integration.kind}: send its events one by one to /api/v1/changes, or send "
                "batches with the key of a generic pipeline."
            )
        results: list[dict[str, Any]] = []
        readable: list[tuple[dict[str, Any], CanonicalChange]] = []
        for index, item in enumerate(batch_items(payload)):
            result, change = read_batch_item(integration, index, item, request.headers)
            results.append(result)
            if change is not None:
                readable.append((result, change))
        if all(result["status"] == "invalid" for result in results):
            errors = {
                name: problems for result in results for name, problems in result["errors"].items()
            }
            raise DomainError(_errors_message(errors), fields=errors)
        if readable:
            stored = services.record_changes(
                pipeline=integration,
                changes=[change for _, change in readable],
                received_at=received_at,
            )
            for (result, _), (change_id, status) in zip(readable, stored, strict=True):
                result["id"] = change_id
                result["status"] = status
        return _batch_answer(results)


class ChangeDetailApi(RetrieveAPIView):
    """One change with every stored field: a report grouped under another change too."""

    serializer_class = ChangeEventSerializer
    queryset = selectors.change_detail()


def _accepted(change: CanonicalChange, change_id: int | None, status: str) -> IngestResult:
    return IngestResult(
        status_code=202,
        data={"id": change_id, "status": status},
        outcome=Delivery.Outcome.ACCEPTED,
        event_type=change.event_type,
        reason=INGEST_REASONS[status].format(outcome=change.outcome),
        object_id=change_id,
    )


def _ignored(reason: str, event_type: str) -> IngestResult:
    return IngestResult(
        status_code=200,
        data={"status": "ignored", "reason": reason},
        outcome=Delivery.Outcome.IGNORED,
        event_type=event_type,
        reason=reason,
    )


def batch_items(payload: Any) -> list[Any]:
    """The changes of a batch body, `{"changes": [...]}` or the bare list; PayloadInvalid names
    `changes` when there are none or too many."""
    items = payload.get("changes") if isinstance(payload, Mapping) else payload
    if items is None and isinstance(payload, Mapping):
        raise PayloadInvalid("changes", "This field is required: a list of changes.")
    if not isinstance(items, list):
        raise PayloadInvalid("changes", 'Expected {"changes": [...]} or a list of changes.')
    if not items:
        raise PayloadInvalid("changes", "Send at least one change.")
    if len(items) > services.MAX_BATCH_SIZE:
        raise PayloadInvalid(
            "changes",
            f"Send at most {services.MAX_BATCH_SIZE} changes per request; this one has "
            f"{len(items)}.",
        )
    return items


def read_batch_item(
    pipeline: DeploymentPipeline, index: int, item: Any, headers: Mapping[str, str]
) -> tuple[dict[str, Any], CanonicalChange | None]:
    """One change of a batch, read as /api/v1/changes reads the generic shape: its result, and
    the change to store (None when it is invalid or the pipeline's noise filters drop it)."""
    try:
        change = generic.to_canonical(item, headers)
    except PayloadInvalid as error:
        name = f"changes.{index}"  # the adapter calls the item itself "body"
        if error.field_name != "body":
            name += f".{error.field_name}"
        errors = {name: error.fields[error.field_name]}
        return {"index": index, "id": None, "status": "invalid", "errors": errors}, None
    reason = noise.noise_reason(pipeline, change)
    if reason:
        return {"index": index, "id": None, "status": "ignored", "reason": reason}, None
    # Recorded unless record_changes finds it a duplicate; the id once it is stored.
    return {"index": index, "id": None, "status": "recorded"}, change


def _batch_answer(results: list[dict[str, Any]]) -> IngestResult:
    counts = Counter(result["status"] for result in results)
    stored_ids = [result["id"] for result in results if result["id"] is not None]
    reason = ", ".join(
        f"{counts[status]} {status}"
        for status in ("recorded", "updated", "duplicate", "invalid", "ignored")
        if counts[status] or status != "updated"
    )
    errors = {
        name: problems for result in results for name, problems in result.get("errors", {}).items()
    }
    if errors:
        reason += f"; {_errors_message(errors)}"
    return IngestResult(
        status_code=202 if stored_ids else 200,
        data={
            "results": results,
            "recorded": counts["recorded"],
            "updated": counts["updated"],
            "duplicates": counts["duplicate"],
            "invalid": counts["invalid"],
            "ignored": counts["ignored"],
        },
        outcome=Delivery.Outcome.ACCEPTED if stored_ids else Delivery.Outcome.IGNORED,
        event_type="batch",
        reason=reason,
        object_id=stored_ids[0] if stored_ids else None,
    )


def _errors_message(errors: dict[str, list[str]]) -> str:
    name, problems = next(iter(errors.items()))
    message = f"{name}: {problems[0]}"
    return message if len(errors) == 1 else f"{message} (and {len(errors) - 1} more)"
