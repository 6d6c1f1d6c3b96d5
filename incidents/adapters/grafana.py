"""Grafana alerting's webhook contact point as alerts, one per entry of `alerts`.

Grafana sends Alertmanager's alert list (read by incidents.adapters.alertmanager, with the same
mapping) and adds, per alert, `silenceURL`, `dashboardURL`, `panelURL` and `imageURL` (kept as
links) and `values`, `valueString`, `ruleUID` and `orgId` (not used), and for the group
`title`, `state` and `message` (not used: the per-alert status and annotations say the same).
Fields per grafana/alerting's `templates.ExtendedAlert` and the contact point's page,
https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
The body of Grafana's legacy alerting (before unified alerting; no `alerts`) is refused. The
bearer key is checked before this runs.
"""

from collections.abc import Mapping
from typing import Any

from incidents.adapters import alertmanager
from incidents.adapters.base import CanonicalAlert

LINKS = {
    **alertmanager.LINKS,
    "dashboardURL": "Dashboard",
    "panelURL": "Panel",
    "silenceURL": "Silence",
    "imageURL": "Image",
}


def to_alerts(body: Any, headers: Mapping[str, str]) -> list[CanonicalAlert]:
    """Read one Grafana notification: one alert per entry of `alerts`, in body order.

    Raises PayloadInvalid naming the bad field (`alerts.<i>.<field>`), and Ignored for a
    notification without alerts.
    """
    return alertmanager.read_alerts(body, links=LINKS)
