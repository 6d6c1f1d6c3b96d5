"""What every alert adapter shares: the canonical alert.

Adapters are pure: a producer's parsed JSON body (and headers) in, a list of CanonicalAlerts
out (Alertmanager and Grafana send several alerts in one body). Like the change adapters they
raise common.payloads.PayloadInvalid (400, naming the field) and Ignored (2xx, nothing
changes, the reason goes to the delivery log).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# The Incident column lengths the values end up in.
TITLE_LENGTH = 500
ALIAS_LENGTH = 255
COMPONENT_LENGTH = 200
ENVIRONMENT_LENGTH = 100
SEVERITIES = ("critical", "high", "medium", "low", "info")


class AlertAction(StrEnum):
    """What the producer says about the alias. The lifecycle service decides the rest."""

    TRIGGER = "trigger"  # raise, or a repeat while open, or a reopen inside the reopen window
    RESOLVE = "resolve"
    ACKNOWLEDGE = "acknowledge"
    # CloudWatch INSUFFICIENT_DATA: the alert source's setting decides (ignore, or raise at
    # medium severity).
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True)
class CanonicalAlert:
    """One alert in our terms. Empty severity or components mean the alert source's defaults;
    `occurred_at` None means "when we received it"."""

    action: AlertAction
    alias: str
    title: str = ""
    description: str = ""
    severity: str = ""
    components: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    environment: str = ""
    team: str = ""  # a team slug the producer names (a `team` label), else the source's team
    links: tuple[Mapping[str, str], ...] = ()
    occurred_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    # A producer's message id (SNS MessageId, EventBridge event id): redeliveries are no-ops.
    idempotency_key: str = ""
    event_type: str = ""
