"""Our generic change API, which also reads the two Alert24 change shapes.

- Alert24's change log (what its CloudWatch blog post's Lambda, curl and Terraform snippets
  send): {component, description, triggered_by, metadata{commit, environment, ...}}.
- Alert24's REST reference: {summary, change_type, environment, commit_sha, branch,
  changed_by, ...}.
- Our richer optional fields: occurred_at, started_at, environment, kind, outcome, summary,
  version, commit, links, idempotency_key, and deployment_id (Alert24's REST name for it is
  external_id): the sender's id of the rollout, whose later reports (started, then succeeded,
  failed or cancelled) update one change.

Alert24's shapes carry no kind, outcome or time: kind defaults to deployment (Alert24's own
default change type), outcome to succeeded, occurred_at to the time we received it.
"""

from collections.abc import Mapping
from typing import Any

from changes.adapters.base import (
    COMMIT_LENGTH,
    ENVIRONMENT_LENGTH,
    KINDS,
    NAME_LENGTH,
    SUMMARY_LENGTH,
    CanonicalChange,
)
from common.payloads import (
    PayloadInvalid,
    clean_links,
    pick,
    pick_text,
    pick_time,
    summary_line,
    truncated,
)

# Alert24 `change_type` values and other common spellings, in our terms.
KIND_SYNONYMS = {
    "deploy": "deployment",
    "release": "deployment",
    "configuration": "config",
    "config_change": "config",
    "feature-flag": "feature_flag",
    "flag": "feature_flag",
    "infra": "infrastructure",
    "terraform": "infrastructure",
    "hotfix": "manual",
    "rollback": "rollback",
}
OUTCOME_SYNONYMS = {
    "succeeded": "succeeded",
    "success": "succeeded",
    "successful": "succeeded",
    "ok": "succeeded",
    "passed": "succeeded",
    "completed": "succeeded",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "errored": "failed",
    "started": "started",
    "running": "started",
    "in_progress": "started",
    "pending": "started",
    "queued": "started",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "aborted": "cancelled",
    "stopped": "cancelled",
}
# Fields this adapter maps; everything else in the body is kept as metadata.
MAPPED = {
    "component",
    "service",
    "description",
    "summary",
    "triggered_by",
    "changed_by",
    "metadata",
    "occurred_at",
    "timestamp",
    "environment",
    "kind",
    "change_type",
    "outcome",
    "status",
    "version",
    "commit",
    "commit_sha",
    "links",
    "idempotency_key",
    "branch",
    "deployment_id",
    "external_id",
    "started_at",
}
# Keys of `metadata` that Alert24 senders use for fields we have.
METADATA_FIELDS = {"commit", "commit_sha", "environment", "version", "triggered_by", "branch"}


def to_canonical(body: Any, headers: Mapping[str, str]) -> CanonicalChange:
    """Read a generic or Alert24-shaped change. Raises PayloadInvalid naming the bad field."""
    if not isinstance(body, Mapping):
        raise PayloadInvalid("body", "Expected a JSON object.")
    metadata = pick(body, "metadata", Mapping, required=False) or {}

    def first(*paths: str, max_length: int = NAME_LENGTH) -> str:
        # Strings only, here and in metadata: `"component": 4711` is a sender's unquoted
        # variable, refused rather than stored as a component named "4711".
        for path in paths:
            value = pick_text(body, path, max_length=max_length)
            if value:
                return value
        return ""

    component = first("component", "service")
    summary = pick_text(body, "summary")
    if not component and not summary:
        raise PayloadInvalid("component", "This field is required (or send a summary).")
    description = pick_text(body, "description")
    # A sender's own summary keeps all its lines (cut to fit); a description lends its first.
    if summary:
        summary = truncated(summary, SUMMARY_LENGTH)
    else:
        summary = summary_line(description, SUMMARY_LENGTH)

    extra = {key: value for key, value in body.items() if key not in MAPPED}
    extra.update({k: v for k, v in metadata.items() if k not in METADATA_FIELDS})
    branch = first("branch", "metadata.branch")
    if branch:
        extra["branch"] = branch
    return CanonicalChange(
        component=component,
        occurred_at=pick_time(body, "occurred_at") or pick_time(body, "timestamp"),
        environment=first("environment", "metadata.environment", max_length=ENVIRONMENT_LENGTH),
        kind=_kind(body),
        outcome=_outcome(body),
        summary=summary,
        description=description,
        triggered_by=first("triggered_by", "changed_by", "metadata.triggered_by"),
        version=first("version", "metadata.version"),
        commit=first(
            "commit",
            "commit_sha",
            "metadata.commit",
            "metadata.commit_sha",
            max_length=COMMIT_LENGTH,
        ),
        links=clean_links(body.get("links")),
        metadata=extra,
        # Ids may be numbers (a CI's run id, unquoted): the same id either way.
        idempotency_key=pick_text(
            body, "idempotency_key", max_length=NAME_LENGTH, accept_numbers=True
        ),
        identity=pick_text(body, "deployment_id", max_length=NAME_LENGTH, accept_numbers=True)
        or pick_text(body, "external_id", max_length=NAME_LENGTH, accept_numbers=True),
        started_at=pick_time(body, "started_at"),
        event_type="change",
        branch=branch,
    )


def _kind(body: Mapping[str, Any]) -> str:
    kind = pick_text(body, "kind").lower()
    if kind:
        kind = KIND_SYNONYMS.get(kind, kind)
        if kind not in KINDS:
            raise PayloadInvalid("kind", f'"{kind}" is not one of {", ".join(KINDS)}.')
        return kind
    # Alert24's change_type is free-form: what we do not know is "other", never an error.
    change_type = pick_text(body, "change_type").lower().replace(" ", "_")
    if not change_type:
        return "deployment"
    change_type = KIND_SYNONYMS.get(change_type, change_type)
    return change_type if change_type in KINDS else "other"


def _outcome(body: Mapping[str, Any]) -> str:
    for field_name in ("outcome", "status"):
        value = pick_text(body, field_name).lower()
        if value:
            if value not in OUTCOME_SYNONYMS:
                choices = "started, succeeded, failed, cancelled"
                raise PayloadInvalid(field_name, f'"{value}" is not one of {choices}.')
            return OUTCOME_SYNONYMS[value]
    return "succeeded"
