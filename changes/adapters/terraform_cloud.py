"""HCP Terraform / Terraform Enterprise run notifications (a generic notification
configuration) as infrastructure changes.

One run is one change, its identity the `run_id`: `run:applying` starts it (real resources start
changing), `run:completed` of an applied run ends it succeeded, `run:errored` ends it failed, or
cancelled when the run was canceled. Plans change nothing: `run:created`, `run:planning`,
`run:needs_attention` and runs that finish as a plan (`planned_and_finished`) are ignored, as is
the `verification` request HCP Terraform sends when the configuration is enabled or tested
(every run field null), which must get a 2xx. Payload fields follow
https://developer.hashicorp.com/terraform/cloud-docs/api-docs/notification-configurations
(#notification-payload), and which of them feeds which of our fields follows the notes in
tests/fixtures/producers/terraform_cloud/*.json. The X-TFE-Notification-Signature check (hex
HMAC-SHA512 of the body with the configuration's token) happens before this runs.

The payload carries no delivery id, commit or branch: a replay is known by run_id + trigger.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from changes.adapters.base import NAME_LENGTH, SUMMARY_LENGTH, CanonicalChange
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

VERIFICATION = "verification"
APPLYING = "run:applying"
COMPLETED = "run:completed"
ERRORED = "run:errored"
# Triggers of a run that has only planned so far: nothing has changed (and may never).
NOT_YET = frozenset(("run:created", "run:planning", "run:needs_attention"))
# Run statuses of a run that ended without applying anything: a plan with no changes or a
# plan-only run (run:completed), a plan thrown away (run:errored).
APPLIED_NOTHING = frozenset(("planned_and_finished", "planned_and_saved", "planned", "discarded"))
CANCELED = frozenset(("canceled", "force_canceled"))
EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Notification:
    """One entry of the payload's `notifications` list."""

    trigger: str
    run_status: str
    at: datetime | None
    message: str
    updated_by: str


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one notification delivery.

    Raises PayloadInvalid naming the bad field (`notifications.0.trigger`), and Ignored (with
    the reason) for the verification request, runs that have changed nothing and triggers
    that are not a run's apply.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    notifications = _notifications(body)
    # HCP Terraform sends one notification per delivery; should a list carry several, the
    # latest state decides.
    latest = max(
        enumerate(notifications),
        key=lambda item: (item[1].at is not None, item[1].at or EARLIEST, item[0]),
    )[1]
    trigger = latest.trigger
    if trigger == VERIFICATION:
        raise Ignored(VERIFICATION, event_type=trigger)
    outcome = _outcome(latest)
    workspace = pick_text(body, "workspace_name", required=True, max_length=NAME_LENGTH)
    run_id = pick_text(body, "run_id", required=True, max_length=NAME_LENGTH)
    run_message = pick_text(body, "run_message")
    fallback = f"{latest.message or 'Terraform run'} in {workspace}"
    return CanonicalChange(
        component=workspace,
        occurred_at=latest.at,
        # An apply's start, when the same delivery also reports it.
        started_at=_applying_at(notifications) if outcome != "started" else None,
        kind="infrastructure",
        outcome=outcome,
        summary=summary_line(run_message or fallback, SUMMARY_LENGTH),
        description=latest.message,
        triggered_by=pick_text(body, "run_created_by", max_length=NAME_LENGTH),
        links=pick_links(body, {"run_url": "Run"}),
        metadata={
            **pick_scalars(
                body,
                {
                    "organization": "organization_name",
                    "workspace_id": "workspace_id",
                    "run_id": "run_id",
                    "run_created_at": "run_created_at",
                    "notification_configuration_id": "notification_configuration_id",
                },
            ),
            **{
                name: value
                for name, value in (
                    ("trigger", trigger),
                    ("run_status", latest.run_status),
                    ("run_updated_by", latest.updated_by),
                )
                if value
            },
        },
        identity=f"run:{run_id}",
        # No delivery id: a run reports each trigger once, so run + trigger is this report.
        event_id=f"run:{run_id}:{trigger}",
        event_type=trigger,
    )


def _notifications(body: Mapping[str, Any]) -> list[Notification]:
    notifications = pick(body, "notifications", list, required=False)
    if notifications is None:
        # Workspace events (drift assessments, auto-destroy) put their trigger at the top.
        trigger = pick_text(body, "trigger", max_length=NAME_LENGTH)
        if trigger:
            raise Ignored(f"trigger not recorded: {trigger}", event_type=trigger)
        raise PayloadInvalid("notifications", "This field is required.")
    if not notifications:
        raise PayloadInvalid("notifications", "Expected at least one notification.")
    return [_read_numbered(item, index) for index, item in enumerate(notifications)]


def _read_numbered(item: Any, index: int) -> Notification:
    if not isinstance(item, Mapping):
        raise PayloadInvalid(f"notifications.{index}", "Expected an object.")
    # The helpers name paths inside the entry; the sender needs to know which entry it was.
    try:
        return Notification(
            trigger=pick_text(item, "trigger", required=True, max_length=NAME_LENGTH).lower(),
            run_status=pick_text(item, "run_status", max_length=NAME_LENGTH).lower(),
            at=pick_time(item, "run_updated_at"),
            message=pick_text(item, "message", max_length=SUMMARY_LENGTH),
            updated_by=pick_text(item, "run_updated_by", max_length=NAME_LENGTH),
        )
    except PayloadInvalid as invalid:
        (problem,) = invalid.fields[invalid.field_name]
        raise PayloadInvalid(f"notifications.{index}.{invalid.field_name}", problem) from None


def _outcome(notification: Notification) -> str:
    """started, succeeded, failed or cancelled; Ignored for a run that changed nothing."""
    trigger, status = notification.trigger, notification.run_status
    if trigger in NOT_YET:
        raise Ignored(f"trigger {trigger}: the run has changed nothing yet", event_type=trigger)
    if trigger not in (APPLYING, COMPLETED, ERRORED):
        raise Ignored(f"trigger not recorded: {trigger}", event_type=trigger)
    if status in APPLIED_NOTHING:
        raise Ignored(
            f"trigger {trigger} with run_status {status}: the run applied nothing",
            event_type=trigger,
        )
    if trigger == APPLYING:
        return "started"
    if trigger == COMPLETED:
        return "succeeded"
    # run:errored also reports cancellations; an apply stopped part-way may have changed some
    # resources, so both end the change rather than being dropped.
    return "cancelled" if status in CANCELED else "failed"


def _applying_at(notifications: list[Notification]) -> datetime | None:
    times = [n.at for n in notifications if n.trigger == APPLYING and n.at is not None]
    return min(times) if times else None
