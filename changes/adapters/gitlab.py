"""GitLab webhooks as changes: the Deployment Hook and the Pipeline Hook.

Reads the event type from the X-Gitlab-Event header and takes X-Gitlab-Event-UUID as the
idempotency key (it wins over the Idempotency-Key header GitLab also sends, which the ingest
view only falls back to); the X-Gitlab-Token check happens before this runs. Payload fields
follow https://docs.gitlab.com/user/project/integrations/webhook_events/ (deployment and
pipeline events), and which of them feeds which of our fields follows the notes in
tests/fixtures/producers/gitlab/*.json. GitLab writes times as Ruby's Time#to_s, which
pick_time reads.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from changes.adapters.base import (
    COMMIT_LENGTH,
    ENVIRONMENT_LENGTH,
    NAME_LENGTH,
    SUMMARY_LENGTH,
    CanonicalChange,
    deploy_title,
)
from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_header,
    pick_links,
    pick_scalars,
    pick_text,
    pick_time,
    summary_line,
)

EVENT_HEADER = "X-Gitlab-Event"
EVENT_UUID_HEADER = "X-Gitlab-Event-UUID"
DEPLOYMENT_HOOK = "Deployment Hook"
PIPELINE_HOOK = "Pipeline Hook"
# A created deployment has not started (and may never): not recorded.
DEPLOYMENT_OUTCOMES = {
    "running": "started",
    "success": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
}
# Pending, created, skipped and manual pipelines have not run: not recorded.
PIPELINE_OUTCOMES = {
    "running": "started",
    "success": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
}


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one GitLab delivery.

    Raises PayloadInvalid naming the bad field or header, and Ignored (with the reason) for
    event types we do not use and events that are not a change to record.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    event = pick_header(headers, EVENT_HEADER, max_length=100, required=True)
    read = READERS.get(event)
    if read is None:
        raise Ignored(f"event type not used: {event}", event_type=event)
    idempotency_key = pick_header(headers, EVENT_UUID_HEADER, max_length=NAME_LENGTH)
    return replace(read(body), idempotency_key=idempotency_key)


def _deployment(body: Mapping[str, Any]) -> CanonicalChange:
    status = pick_text(body, "status", required=True).lower()
    if status not in DEPLOYMENT_OUTCOMES:
        raise Ignored(f"deployment status not recorded: {status}", event_type=DEPLOYMENT_HOOK)
    ref = pick_text(body, "ref", max_length=NAME_LENGTH)
    environment = pick_text(body, "environment", max_length=ENVIRONMENT_LENGTH)
    return CanonicalChange(
        component=_component(body),
        occurred_at=pick_time(body, "status_changed_at"),
        environment=environment,
        outcome=DEPLOYMENT_OUTCOMES[status],
        summary=summary_line(deploy_title(ref, environment), SUMMARY_LENGTH),
        description=pick_text(body, "commit_title"),
        triggered_by=pick_text(body, "user.username", max_length=NAME_LENGTH),
        version=ref,
        # Kept short as sent: the full SHA is only the last segment of commit_url.
        commit=pick_text(body, "short_sha", max_length=COMMIT_LENGTH),
        links=pick_links(
            body,
            {
                "deployable_url": "Job",
                "commit_url": "Commit",
                "environment_external_url": "Environment",
            },
        ),
        metadata=_metadata(body, deployment_id="deployment_id", job_id="deployable_id"),
        identity=_body_id(body, "deployment", "deployment_id"),
        event_type=DEPLOYMENT_HOOK,
    )


def _pipeline(body: Mapping[str, Any]) -> CanonicalChange:
    status = pick_text(body, "object_attributes.status", required=True).lower()
    if status not in PIPELINE_OUTCOMES:
        raise Ignored(f"pipeline status not recorded: {status}", event_type=PIPELINE_HOOK)
    ref = pick_text(body, "object_attributes.ref", required=True, max_length=NAME_LENGTH)
    if pick(body, "object_attributes.tag", bool, required=False):
        raise Ignored(f"tag pipeline not recorded: {ref}", event_type=PIPELINE_HOOK)
    if ref != pick_text(body, "project.default_branch", required=True):
        raise Ignored(
            f"pipeline on a non-default branch not recorded: {ref}", event_type=PIPELINE_HOOK
        )
    # No environment: the pipeline has none. Its deploy jobs fire their own Deployment Hook.
    return CanonicalChange(
        component=_component(body),
        # A running pipeline has no finish yet: its creation is its start.
        occurred_at=pick_time(body, "object_attributes.finished_at")
        or pick_time(body, "object_attributes.created_at"),
        started_at=pick_time(body, "object_attributes.created_at"),
        outcome=PIPELINE_OUTCOMES[status],
        summary=summary_line(
            pick_text(body, "object_attributes.name") or f"Pipeline on {ref}", SUMMARY_LENGTH
        ),
        description=pick_text(body, "commit.title"),
        triggered_by=pick_text(body, "user.username", max_length=NAME_LENGTH),
        version=ref,
        commit=pick_text(body, "object_attributes.sha", max_length=COMMIT_LENGTH),
        links=pick_links(body, {"object_attributes.url": "Pipeline", "commit.url": "Commit"}),
        metadata=_metadata(
            body, pipeline_id="object_attributes.id", source="object_attributes.source"
        ),
        identity=_body_id(body, "pipeline", "object_attributes.id"),
        event_type=PIPELINE_HOOK,
        branch=ref,
    )


READERS: dict[str, Callable[[Mapping[str, Any]], CanonicalChange]] = {
    DEPLOYMENT_HOOK: _deployment,
    PIPELINE_HOOK: _pipeline,
}


def _component(body: Mapping[str, Any]) -> str:
    return pick_text(body, "project.name", required=True, max_length=NAME_LENGTH)


def _body_id(body: Mapping[str, Any], prefix: str, path: str) -> str:
    """The change's identity, `<prefix>:<id>` ("" when absent): a deployment's and a pipeline's
    ids are counted apart. GitLab's ids are numbers; every other field we read is a string."""
    value = pick_text(body, path, max_length=NAME_LENGTH, accept_numbers=True)
    return f"{prefix}:{value}" if value else ""


def _metadata(body: Mapping[str, Any], **paths: str) -> dict[str, Any]:
    """A few extras for the change page (project and ids), never the whole payload."""
    return pick_scalars(body, {"project": "project.path_with_namespace", **paths})
