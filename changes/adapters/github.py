"""GitHub webhooks as changes: deployment_status, release, push and workflow_run.

Reads the event type from the X-GitHub-Event header and takes X-GitHub-Delivery as the
idempotency key; the X-Hub-Signature-256 check happens before this runs. GitHub does not sign
that header, so each event also carries the ids of its signed body: the change's identity
(deployment.id, workflow_run.id + run_attempt, release.id, the pushed commit), whose later
events update one change, and the event's own id (deployment_status.id, ...), whose replay
under a new delivery id is a duplicate. Payload fields follow
https://docs.github.com/en/webhooks/webhook-events-and-payloads, and which of them feeds which
of our fields follows the notes in tests/fixtures/producers/github/*.json.
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

EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
# inactive (a newer deployment replaced this one) is not a state of the rollout: ignored.
DEPLOYMENT_OUTCOMES = {
    "queued": "started",
    "pending": "started",
    "in_progress": "started",
    "success": "succeeded",
    "failure": "failed",
    "error": "failed",
}
# skipped, neutral, action_required and stale runs changed nothing: not recorded.
WORKFLOW_OUTCOMES = {
    "success": "succeeded",
    "failure": "failed",
    "timed_out": "failed",
    "startup_failure": "failed",
    "cancelled": "cancelled",
}


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one GitHub delivery.

    Raises PayloadInvalid naming the bad field or header, and Ignored (with the reason) for
    pings, event types we do not use and events that are not a finished change.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    event = pick_header(headers, EVENT_HEADER, max_length=100, required=True)
    if event == "ping":
        raise Ignored("ping", event_type=event)
    read = READERS.get(event)
    if read is None:
        raise Ignored(f"event type not used: {event}", event_type=event)
    idempotency_key = pick_header(headers, DELIVERY_HEADER, max_length=NAME_LENGTH)
    return replace(read(body), idempotency_key=idempotency_key)


def _deployment_status(body: Mapping[str, Any]) -> CanonicalChange:
    state = pick_text(body, "deployment_status.state", required=True).lower()
    # Each field read from the deployment is optional, but a status always comes with its
    # deployment: one without is refused, whatever its state.
    pick(body, "deployment", Mapping)
    if state not in DEPLOYMENT_OUTCOMES:
        raise Ignored(f"deployment state not recorded: {state}", event_type="deployment_status")
    ref = pick_text(body, "deployment.ref", max_length=NAME_LENGTH)
    task = pick_text(body, "deployment.task").lower()
    environment = pick_text(
        body, "deployment_status.environment", max_length=ENVIRONMENT_LENGTH
    ) or pick_text(body, "deployment.environment", max_length=ENVIRONMENT_LENGTH)
    title = pick_text(body, "deployment.description") or deploy_title(ref, environment)
    return CanonicalChange(
        component=_component(body),
        occurred_at=pick_time(body, "deployment_status.created_at"),
        environment=environment,
        # A rollback is a deployment whose task says so (`deploy:rollback`, `rollback`).
        kind="rollback" if "rollback" in task else "deployment",
        outcome=DEPLOYMENT_OUTCOMES[state],
        summary=summary_line(title, SUMMARY_LENGTH),
        description=pick_text(body, "deployment_status.description"),
        triggered_by=pick_text(body, "deployment.creator.login", max_length=NAME_LENGTH),
        version=ref,
        commit=pick_text(body, "deployment.sha", max_length=COMMIT_LENGTH),
        links=pick_links(
            body,
            {
                "deployment_status.target_url": "Deployment",
                "deployment_status.log_url": "Log",
                "deployment_status.environment_url": "Environment",
            },
        ),
        metadata=_metadata(body, deployment_id="deployment.id"),
        identity=_body_id(body, "deployment", "deployment.id"),
        event_id=_body_id(body, "deployment_status", "deployment_status.id"),
        event_type="deployment_status",
    )


def _release(body: Mapping[str, Any]) -> CanonicalChange:
    action = pick_text(body, "action", required=True)
    if action != "published":
        raise Ignored(f"release action not recorded: {action}", event_type="release")
    tag = pick_text(body, "release.tag_name", required=True, max_length=NAME_LENGTH)
    # A release names no commit (target_commitish is a branch) and no environment.
    return CanonicalChange(
        component=_component(body),
        occurred_at=pick_time(body, "release.published_at"),
        summary=summary_line(f"Release {pick_text(body, 'release.name') or tag}", SUMMARY_LENGTH),
        description=pick_text(body, "release.body"),
        triggered_by=pick_text(body, "release.author.login", max_length=NAME_LENGTH),
        version=tag,
        links=pick_links(body, {"release.html_url": "Release"}),
        metadata=_metadata(body, release_id="release.id", prerelease="release.prerelease"),
        identity=_body_id(body, "release", "release.id"),
        event_id=_body_id(body, "release", "release.id"),
        event_type="release",
    )


def _push(body: Mapping[str, Any]) -> CanonicalChange:
    ref = pick(body, "ref", str)
    if ref.startswith("refs/tags/"):
        raise Ignored(f"tag push not recorded: {ref.removeprefix('refs/tags/')}", event_type="push")
    branch = ref.removeprefix("refs/heads/")
    if pick(body, "deleted", bool, required=False):
        raise Ignored(f"branch deletion not recorded: {branch}", event_type="push")
    default_branch = pick_text(
        body, "repository.default_branch", required=True, max_length=NAME_LENGTH
    )
    if ref != f"refs/heads/{default_branch}":
        raise Ignored(f"push to a non-default branch not recorded: {branch}", event_type="push")
    after = pick_text(body, "after", required=True, max_length=COMMIT_LENGTH)
    return CanonicalChange(
        component=_component(body),
        # Push events send pushed_at as epoch seconds: the push time. head_commit.timestamp is
        # when the commit was written, possibly days earlier.
        occurred_at=pick_time(body, "repository.pushed_at"),
        summary=f"Push to {branch}",
        description=pick_text(body, "head_commit.message"),
        triggered_by=pick_text(body, "sender.login", max_length=NAME_LENGTH)
        or pick_text(body, "pusher.name", max_length=NAME_LENGTH),
        version=branch,
        commit=after,
        links=pick_links(body, {"compare": "Compare"}),
        metadata=_metadata(body, before="before", forced="forced"),
        identity=f"push:{branch}:{after}",
        event_id=f"push:{branch}:{after}",
        event_type="push",
        branch=branch,
    )


def _workflow_run(body: Mapping[str, Any]) -> CanonicalChange:
    action = pick_text(body, "action", required=True)
    if action == "in_progress":
        outcome = "started"
    elif action == "completed":
        conclusion = pick_text(body, "workflow_run.conclusion", required=True).lower()
        if conclusion not in WORKFLOW_OUTCOMES:
            raise Ignored(
                f"workflow run conclusion not recorded: {conclusion}", event_type="workflow_run"
            )
        outcome = WORKFLOW_OUTCOMES[conclusion]
    else:  # requested: queued, not running yet; it may never run
        raise Ignored(f"workflow run action not recorded: {action}", event_type="workflow_run")
    branch = pick_text(body, "workflow_run.head_branch", max_length=NAME_LENGTH)
    run = _body_id(body, "", "workflow_run.id")
    if run:  # a re-run is an attempt of its own
        run += f":{pick_text(body, 'workflow_run.run_attempt', accept_numbers=True) or 1}"
    # A run names no environment; noise filters can narrow runs down by branch.
    return CanonicalChange(
        component=_component(body),
        # A run is last updated when it starts, and when it completes.
        occurred_at=pick_time(body, "workflow_run.updated_at"),
        started_at=pick_time(body, "workflow_run.run_started_at"),
        outcome=outcome,
        summary=summary_line(
            pick_text(body, "workflow_run.name") or "Workflow run", SUMMARY_LENGTH
        ),
        description=pick_text(body, "workflow_run.display_title"),
        triggered_by=pick_text(body, "workflow_run.actor.login", max_length=NAME_LENGTH),
        version=branch,
        commit=pick_text(body, "workflow_run.head_sha", max_length=COMMIT_LENGTH),
        links=pick_links(body, {"workflow_run.html_url": "Workflow run"}),
        metadata=_metadata(
            body,
            workflow_run_id="workflow_run.id",
            run_attempt="workflow_run.run_attempt",
            trigger="workflow_run.event",
        ),
        identity=run and f"workflow_run:{run}",
        event_id=run and f"workflow_run:{run}:{action}",
        event_type="workflow_run",
        branch=branch,
    )


READERS: dict[str, Callable[[Mapping[str, Any]], CanonicalChange]] = {
    "deployment_status": _deployment_status,
    "release": _release,
    "push": _push,
    "workflow_run": _workflow_run,
}


def _component(body: Mapping[str, Any]) -> str:
    return pick_text(body, "repository.name", required=True, max_length=NAME_LENGTH)


def _body_id(body: Mapping[str, Any], prefix: str, path: str) -> str:
    """An id from the body as `<prefix>:<id>` ("" when absent), so ids of different objects
    never meet. GitHub's ids are numbers; every other field we read is a string."""
    value = pick_text(body, path, max_length=NAME_LENGTH, accept_numbers=True)
    return f"{prefix}:{value}" if value and prefix else value


def _metadata(body: Mapping[str, Any], **paths: str) -> dict[str, Any]:
    """A few extras for the change page (repository and ids), never the whole payload."""
    return pick_scalars(body, {"repository": "repository.full_name", **paths})
