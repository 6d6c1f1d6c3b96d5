"""Argo CD application syncs as changes, from its notifications webhook service.

Argo CD has no payload of its own: the body is what our template (the setup snippet,
templates/pipelines/snippets/pipelines-argocd.html) renders from the Application: trigger, app,
project, revision, syncStatus, health, phase, message, startedAt, finishedAt, initiatedBy,
automated, repoURL, targetRevision, destServer, destNamespace, url. It comes with the
`Authorization: Bearer <key>` header the service is configured with; no signature, no delivery
id.

- One change is one sync operation: the identity is app + operationState.startedAt, so
  on-sync-running then on-sync-succeeded (or -failed, or on-deployed) update one change; a
  retry of the same request is a duplicate (same app, start, trigger and revision).
- The operation's phase decides the outcome: Running → started, Succeeded → succeeded,
  Failed/Error → failed. The app's health and sync status never do.
- Templates cannot read the trigger's name, so ours writes it. Health triggers
  (on-health-degraded), sync-status triggers and on-created/on-deleted are not a sync: their
  body still describes the last operation, which was recorded when it ran. A body without a
  trigger is read from its phase.
- component = app; commit = revision (syncResult.revision); version = targetRevision;
  triggered_by = initiatedBy unless the sync was automated. Argo CD names no environment: an
  `environment` a team adds to the template is read; destServer/destNamespace are metadata.
"""

from collections.abc import Mapping
from typing import Any

from changes.adapters.base import (
    COMMIT_LENGTH,
    ENVIRONMENT_LENGTH,
    NAME_LENGTH,
    SUMMARY_LENGTH,
    CanonicalChange,
)
from common.payloads import (
    Ignored,
    PayloadInvalid,
    pick,
    pick_links,
    pick_scalars,
    pick_text,
    pick_time,
    summary_line,
)

# Argo CD's operation phases (gitops-engine OperationPhase). Terminating is a step on the way
# to Failed, and a body without an operation has none.
OUTCOMES = {
    "running": "started",
    "succeeded": "succeeded",
    "failed": "failed",
    "error": "failed",
}
# The catalog triggers that describe a sync operation (on-deployed: one that left the app
# healthy). Any other trigger a team writes into the template is read from its phase too.
SYNC_TRIGGERS = {"on-sync-running", "on-sync-succeeded", "on-sync-failed", "on-deployed"}
# Triggers that are not about a sync, with why; their body describes the last operation.
OTHER_TRIGGERS = {
    "on-health-": "a health change, not a sync",
    "on-sync-status-": "a sync status change, not a sync operation",
    "on-created": "an application created, not a sync",
    "on-deleted": "an application deleted, not a sync",
}
WORDS = {"started": "running", "succeeded": "succeeded", "failed": "failed"}


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one notification rendered by our template.

    Raises PayloadInvalid naming the bad field, and Ignored (with the reason) for triggers that
    are not about a sync and for bodies that describe no sync operation.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    trigger = pick_text(body, "trigger", max_length=NAME_LENGTH)
    event_type = trigger or "sync"
    if trigger not in SYNC_TRIGGERS:
        for prefix, why in OTHER_TRIGGERS.items():
            if trigger.startswith(prefix):
                raise Ignored(f"trigger {trigger}: {why}", event_type=event_type)
    app = pick_text(body, "app", required=True, max_length=NAME_LENGTH)
    phase = pick_text(body, "phase")
    if not phase:
        raise Ignored(f"{app}: no sync operation yet", event_type=event_type)
    outcome = OUTCOMES.get(phase.lower())
    if outcome is None:
        raise Ignored(f"{app}: operation phase not recorded: {phase}", event_type=event_type)
    started_at = pick_time(body, "startedAt", required=True)
    # A running operation has no finish yet: its start is its latest state.
    occurred_at = (pick_time(body, "finishedAt") if outcome != "started" else None) or started_at
    revision = pick_text(body, "revision", max_length=COMMIT_LENGTH)
    version = pick_text(body, "targetRevision", max_length=NAME_LENGTH)
    automated = pick(body, "automated", bool, required=False)
    # The instant, whatever its spelling: one operation has one start.
    identity = f"sync:{app}:{started_at.isoformat().replace('+00:00', 'Z')}"
    return CanonicalChange(
        component=app,
        occurred_at=occurred_at,
        started_at=started_at,
        environment=pick_text(body, "environment", max_length=ENVIRONMENT_LENGTH),
        outcome=outcome,
        summary=summary_line(_summary(app, version, outcome), SUMMARY_LENGTH),
        description=pick_text(body, "message"),
        triggered_by="" if automated else pick_text(body, "initiatedBy", max_length=NAME_LENGTH),
        version=version,
        commit=revision,
        links=pick_links(body, {"url": "Application", "repoURL": "Repository"}),
        metadata=_metadata(body),
        identity=identity,
        # Without a delivery id, a retry is told by what it says: the same report of the same
        # operation. The revision is part of it, as a check.
        event_id=f"{identity}:{event_type}:{revision}",
        event_type=event_type,
    )


def _summary(app: str, version: str, outcome: str) -> str:
    target = f" to {version}" if version else ""
    return f"Sync of {app}{target} {WORDS[outcome]}"


def _metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    """Where it went and how it was at the time, for the change page; never the whole body."""
    return pick_scalars(
        body,
        {
            "project": "project",
            "sync_status": "syncStatus",
            "health": "health",
            "phase": "phase",
            "automated": "automated",
            "repository": "repoURL",
            "destination_server": "destServer",
            "destination_namespace": "destNamespace",
        },
    )
