"""AWS CodePipeline pipeline execution events, as an EventBridge API destination delivers them.

Reads the "CodePipeline Pipeline Execution State Change" event unchanged: the envelope's `id`,
`time`, `region`, `account` and `resources`, and its `detail`. Stage and action events are
ignored. Field names follow AWS's "Monitoring CodePipeline events" page (the `doc` of each
tests/fixtures/producers/codepipeline/*.json, detect-state-changes-cloudwatch-events.html), and
which of them feeds which of our fields follows those fixtures' notes. The API destination's
key is checked before this runs; no header carries anything we read.
"""

from collections.abc import Mapping
from typing import Any

from changes.adapters.base import COMMIT_LENGTH, NAME_LENGTH, CanonicalChange
from common.payloads import Ignored, PayloadInvalid, pick, pick_text, pick_time

EXECUTION_EVENT = "CodePipeline Pipeline Execution State Change"
TRIGGER = "detail.execution-trigger"
# An execution is one change (its execution-id): started, then one of these ends. STOPPING and
# RESUMED are steps on the way, not recorded.
OUTCOMES = {
    "STARTED": "started",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "STOPPED": "cancelled",
    "SUPERSEDED": "cancelled",
    "CANCELED": "cancelled",
}
# Trigger types of a rollback execution (CodePipeline's stage rollback, by hand or on failure).
ROLLBACK_TRIGGERS = {"AutomatedRollback", "ManualRollback"}
# A run started from the console or CLI names its caller only in an IAM or STS ARN.
CALLER_ARN_MARKERS = (":assumed-role/", ":user/")


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one EventBridge event.

    Raises PayloadInvalid naming the bad field, and Ignored (with the reason) for other event
    types and for execution states that are not a change to record.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    detail_type = pick_text(body, "detail-type", required=True, max_length=NAME_LENGTH)
    if detail_type != EXECUTION_EVENT:
        raise Ignored(f"event type not used: {detail_type}", event_type=detail_type)
    # Required as a whole, so that a body without one is told that, not that detail.state is.
    pick(body, "detail", Mapping)
    state = pick_text(body, "detail.state", required=True).upper()
    if state not in OUTCOMES:
        raise Ignored(f"pipeline execution state not recorded: {state}", event_type=detail_type)
    pipeline = pick_text(body, "detail.pipeline", required=True, max_length=NAME_LENGTH)
    # Only a Git connection's trigger names a branch and a commit.
    branch = pick_text(body, f"{TRIGGER}.branch-name", max_length=NAME_LENGTH)
    trigger_type = pick_text(body, f"{TRIGGER}.trigger-type")
    execution = pick_text(body, "detail.execution-id", max_length=NAME_LENGTH)
    return CanonicalChange(
        component=pipeline,
        occurred_at=pick_time(body, "time"),
        kind="rollback" if trigger_type in ROLLBACK_TRIGGERS else "deployment",
        outcome=OUTCOMES[state],
        summary=f"{pipeline} pipeline execution {OUTCOMES[state]}",
        triggered_by=_triggered_by(body),
        version=branch,
        commit=pick_text(body, f"{TRIGGER}.commit-id", max_length=COMMIT_LENGTH),
        metadata=_metadata(body),
        # EventBridge delivers at least once, and a retry keeps the event id.
        idempotency_key=pick_text(body, "id", max_length=NAME_LENGTH),
        identity=execution and f"execution:{execution}",
        event_type=detail_type,
        branch=branch,
    )


def _triggered_by(body: Mapping[str, Any]) -> str:
    """The commit author's login, else their name, else whoever started the run by hand."""
    for name in ("author-id", "author-display-name"):
        author = pick_text(body, f"{TRIGGER}.{name}", max_length=NAME_LENGTH)
        if author:
            return author
    caller = pick_text(body, f"{TRIGGER}.trigger-detail")
    if any(marker in caller for marker in CALLER_ARN_MARKERS):
        # arn:aws:sts::<account>:assumed-role/<role>/<session>: the session names the person.
        return caller.rsplit("/", 1)[-1][:NAME_LENGTH]
    return ""


def _metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    """Which run of which pipeline, for the change page; never the whole event."""
    resources = pick(body, "resources", list, required=False) or []
    picked = {
        "region": pick_text(body, "region"),
        "account": pick_text(body, "account"),
        "execution_id": pick_text(body, "detail.execution-id"),
        "pipeline_arn": resources[0] if resources and isinstance(resources[0], str) else "",
        "pipeline_version": _whole_number(body, "detail.version"),
        "execution_attempt": _whole_number(body, "detail.pipeline-execution-attempt"),
        "trigger_type": pick_text(body, f"{TRIGGER}.trigger-type"),
        "repository": pick_text(body, f"{TRIGGER}.full-repository-name"),
        "commit_message": pick_text(body, f"{TRIGGER}.commit-message"),
    }
    return {name: value for name, value in picked.items() if value not in (None, "")}


def _whole_number(body: Mapping[str, Any], path: str) -> int | float | None:
    # EventBridge turns CodePipeline's integers into floats (7.0): keep them as the 7 they were.
    number = pick(body, path, (int, float), required=False)
    return int(number) if isinstance(number, float) and number.is_integer() else number
