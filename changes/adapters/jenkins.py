"""Jenkins builds, as the Notification plugin (jenkinsci/notification-plugin) sends them in its
JSON format, as deployments.

One build is one change, its identity the job's `url` and the build's `number`: the plugin
reports QUEUED, STARTED, COMPLETED and FINALIZED for each build (an endpoint may take only some
of them). STARTED starts the change; COMPLETED and FINALIZED end it by the build's status:
SUCCESS succeeded, FAILURE, UNSTABLE and ABORTED failed (an aborted deploy may have changed part
of its target, and a started change must end). QUEUED (not running yet) and NOT_BUILT (it did
not run) are ignored. The JSON shape is Gson's over the plugin's model/JobState and BuildState
(https://plugins.jenkins.io/notification/), and which field feeds which of ours follows the notes
in tests/fixtures/producers/jenkins/*.json.

The plugin cannot send a header of its choosing: the pipeline's key travels in the URL path
(or an Authorization: Bearer header for a script posting to /api/v1/changes). It sends no
delivery id. Its Gson omits null fields, writes "=" as \\u003d (plain JSON escapes, which any
JSON reader undoes) and gives times as epoch milliseconds.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

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

STARTED = "STARTED"
# Phases that report the build's result.
FINISHED = frozenset(("COMPLETED", "FINALIZED"))
# Jenkins' hudson.model.Result, by what it means for the change. NOT_BUILT: it did not run.
STATUS_OUTCOMES = {
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "UNSTABLE": "failed",
    "ABORTED": "failed",
}
# The build parameters that name the component (instead of the job) and the environment.
COMPONENT_PARAMETER = "COMPONENT"
ENVIRONMENT_PARAMETER = "ENVIRONMENT"
# Room for "build:" and the build number in the 300 characters of an identity.
JOB_URL_LENGTH = 250
# The git plugin reports the branch with its remote (GIT_BRANCH "origin/main").
BRANCH_PREFIXES = ("refs/heads/", "refs/remotes/origin/", "origin/")


def to_canonical(body: Mapping[str, Any], headers: Mapping[str, str]) -> CanonicalChange:
    """Read one notification of a build.

    Raises PayloadInvalid naming the bad field (`build.phase`), and Ignored (with the reason)
    for phases and statuses that are not a change: QUEUED, NOT_BUILT, a finish without a result.
    """
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    # Required as a whole, so that a body without one is told that, not that build.phase is.
    pick(body, "build", Mapping)
    phase = pick_text(body, "build.phase", required=True, max_length=NAME_LENGTH).upper()
    status = pick_text(body, "build.status", max_length=NAME_LENGTH).upper()
    outcome = _outcome(phase, status)
    job_url = pick_text(body, "url", required=True, max_length=JOB_URL_LENGTH)
    # The build number is a number; the plugin's other fields are strings.
    number = pick_text(body, "build.number", required=True, max_length=20, accept_numbers=True)
    pick(body, "build.parameters", Mapping, required=False)
    environment = pick_text(
        body, f"build.parameters.{ENVIRONMENT_PARAMETER}", max_length=ENVIRONMENT_LENGTH
    )
    job = _job_path(job_url) or pick_text(body, "name") or job_url
    occurred_at = pick_time(body, "build.timestamp")
    scm_branch = pick_text(body, "build.scm.branch", max_length=NAME_LENGTH)
    identity = f"build:{job_url.rstrip('/')}/{number}"
    title = f"{job} #{number}" + (f" to {environment}" if environment else "")
    return CanonicalChange(
        component=_component(body),
        occurred_at=occurred_at,
        started_at=_started_at(body, occurred_at) if phase in FINISHED else None,
        environment=environment,
        outcome=outcome,
        summary=summary_line(title, SUMMARY_LENGTH),
        description=pick_text(body, "build.notes"),
        # As the git plugin reports it, remote included ("origin/main"): absent until checkout.
        version=scm_branch,
        commit=pick_text(body, "build.scm.commit", max_length=COMMIT_LENGTH),
        links=pick_links(body, {"build.full_url": "Build"}),
        metadata=pick_scalars(
            body,
            {
                "job": "url",
                "build_number": "build.number",
                "queue_id": "build.queue_id",
                "phase": "build.phase",
                "status": "build.status",
                "duration_ms": "build.duration",
                "repository": "build.scm.url",
            },
        ),
        identity=identity,
        # No delivery id. A build's COMPLETED and FINALIZED report the same result: the second
        # is the same report, a duplicate, rather than a later finish.
        event_id=f"{identity}:{status if phase in FINISHED else phase}",
        event_type=phase,
        branch=_branch(scm_branch),
    )


def _outcome(phase: str, status: str) -> str:
    if phase == STARTED:
        return "started"
    if phase not in FINISHED:
        reason = (
            "phase QUEUED: the build has not started yet"
            if phase == "QUEUED"
            else f"phase not recorded: {phase}"
        )
        raise Ignored(reason, event_type=phase)
    if not status:
        # A pipeline's notifyEndpoints step may send COMPLETED before the build has a result.
        raise Ignored(f"phase {phase} without a status: the result is not known", event_type=phase)
    if status == "NOT_BUILT":
        raise Ignored("status NOT_BUILT: the build did not run", event_type=phase)
    if status not in STATUS_OUTCOMES:
        raise Ignored(f"status not recorded: {status}", event_type=phase)
    return STATUS_OUTCOMES[status]


def _component(body: Mapping[str, Any]) -> str:
    """A COMPONENT build parameter, else the job's name (a leaf name, without its folders)."""
    return pick_text(
        body, f"build.parameters.{COMPONENT_PARAMETER}", max_length=NAME_LENGTH
    ) or pick_text(body, "name", required=True, max_length=NAME_LENGTH)


def _started_at(body: Mapping[str, Any], occurred_at: datetime | None) -> datetime | None:
    """The build's start, from a finish: COMPLETED's timestamp is start + duration exactly;
    FINALIZED's is when it was sent, a little after that (a start a little late, which a
    STARTED report moves back to the real one)."""
    duration = pick(body, "build.duration", (int, float), required=False)
    if occurred_at is None or not duration or duration < 0:
        return None
    return occurred_at - timedelta(milliseconds=duration)


def _job_path(job_url: str) -> str:
    """The job's full name from its url ("job/deploy/job/checkout-api/" is
    "deploy/checkout-api"), or "" for a url of another shape."""
    steps = job_url.strip("/").split("/")
    if len(steps) % 2 or any(step != "job" for step in steps[::2]):
        return ""
    return "/".join(unquote(step) for step in steps[1::2])


def _branch(scm_branch: str) -> str:
    """The branch without the remote, for the pipeline's branch filter."""
    for prefix in BRANCH_PREFIXES:
        if scm_branch.startswith(prefix):
            return scm_branch.removeprefix(prefix)
    return scm_branch
