"""What every change adapter produces: the canonical change, and the room it has to fit in.

Adapters are pure: a producer's parsed JSON body (and headers) in, a CanonicalChange out. They
read the body with common.payloads, and say no with its PayloadInvalid (400, naming the field)
and Ignored (2xx, nothing stored, reason in the delivery log).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KINDS = ("deployment", "rollback", "config", "feature_flag", "infrastructure", "manual", "other")
OUTCOMES = ("succeeded", "failed", "started", "cancelled")
# The lengths of the ChangeEvent columns the values end up in.
NAME_LENGTH = 200
ENVIRONMENT_LENGTH = 100
COMMIT_LENGTH = 100
SUMMARY_LENGTH = 500


@dataclass(frozen=True)
class CanonicalChange:
    """A change in our terms. `occurred_at` None means "when we received it"."""

    component: str
    occurred_at: datetime | None = None
    environment: str = ""
    kind: str = "deployment"
    outcome: str = "succeeded"
    summary: str = ""
    description: str = ""
    triggered_by: str = ""
    version: str = ""
    commit: str = ""
    links: tuple[Mapping[str, str], ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    # The producer's own id of what changed (a deployment, an execution): its reports update
    # one change. Empty when every report is a change of its own.
    identity: str = ""
    # When the producer says the change started, if it says so apart from occurred_at.
    started_at: datetime | None = None
    # The producer's id of this one report, from the (signed) body: a replay under a new
    # delivery id is still a duplicate.
    event_id: str = ""
    # Producers that resend an unchanged state again and again: why a repeat of this report
    # (same event_id) is noise, answered "ignored" rather than "duplicate".
    repeat_reason: str = ""
    # For noise filters and the delivery log; not stored on the change itself.
    event_type: str = ""
    branch: str = ""


def deploy_title(ref: str, environment: str) -> str:
    """A summary for a deployment that names none: "Deploy <ref> to <environment>"."""
    title = f"Deploy {ref}" if ref else "Deploy"
    return f"{title} to {environment}" if environment else title
