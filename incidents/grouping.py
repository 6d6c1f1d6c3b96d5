"""Alert grouping: the alerts of one storm become one incident.

An alert whose components (after alias resolution) meet those of an open incident of the same
team that started within the alert source's grouping window joins that incident. The incident
keeps its start (its window starts at its first alert); its title, alert count and severity
follow its alerts. Called by incidents.services inside its transaction; nothing here commits.
"""

from datetime import datetime, timedelta

from django.db import connection

from common.rows import cursor, load_row, select_list
from incidents.models import Alert, Incident
from pipelines.models import AlertSource, Severity
from teams.models import Team

# One storm's alerts may arrive at the same instant on several connections: without one lock
# each would find no incident to join and open its own. A transaction-level advisory lock,
# taken before any row lock of process_alerts, so it cannot deadlock with them.
GROUPING_LOCK = 0x57_43_47  # "WCG"
SEVERITY_ORDER = list(Severity.values)  # critical first


def serialise_grouping() -> None:
    """Apply alerts that may group one transaction at a time (PostgreSQL; SQLite's writes are
    serial anyway). Held until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GROUPING_LOCK])


def incident_to_join(
    *,
    source: AlertSource,
    names: list[str],
    component_ids: list[int],
    team: Team | None,
    started_at: datetime,
) -> Incident | None:
    """The open incident (locked) that an alert of these components joins, or None.

    Alerts without components never group, and neither does a source whose window is 0.
    """
    minutes = source.grouping_minutes
    if not minutes or not names:
        return None
    # Written out: on every alert of a storm, the ORM would spend ten times the query's own
    # time building it.
    meets = f"name IN ({', '.join(['%s'] * len(names))})"
    if component_ids:
        meets += f" OR component_id IN ({', '.join(['%s'] * len(component_ids))})"
    sql = (
        f"SELECT {select_list(Incident, 'i')} FROM incidents_incident i "  # noqa: S608 (columns)
        f"WHERE i.status IN (%s, %s) AND i.team_id {'= %s' if team else 'IS NULL'} "
        "AND i.started_at >= %s "
        f"AND i.id IN (SELECT incident_id FROM incidents_incidentcomponent WHERE {meets}) "
        "ORDER BY i.started_at DESC, i.id DESC LIMIT 1"
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    params = [*map(str, Incident.OPEN_STATUSES), *([team.pk] if team else [])]
    params += [started_at - timedelta(minutes=minutes), *names, *component_ids]
    with cursor() as read:
        read.execute(sql, params)
        row = read.fetchone()
    return None if row is None else load_row(Incident, row)


def storm_title(first_title: str, alert_count: int) -> str:
    """ "HighErrorRate and 11 more": the first alert's title and how many joined it."""
    if alert_count <= 1:
        return first_title
    more = f" and {alert_count - 1} more"
    return first_title[: 500 - len(more)] + more


def highest_severity(severities: list[str]) -> str | None:
    known = [severity for severity in severities if severity in SEVERITY_ORDER]
    return min(known, key=SEVERITY_ORDER.index) if known else None


def follow_alerts(incident: Incident) -> list[str]:
    """Set the incident's title, alert count and severity from its alerts (severity: its
    highest firing alert's, unchanged when none fires). Returns the fields it set."""
    alerts = list(
        Alert.objects.filter(incident=incident)
        .order_by("started_at", "id")
        .values_list("title", "severity", "status")
    )
    if not alerts:
        return []
    incident.alert_count = len(alerts)
    incident.title = storm_title(alerts[0][0], len(alerts))
    firing = highest_severity(
        [severity for _, severity, status in alerts if status == Alert.Status.TRIGGERED]
    )
    if firing is not None:
        incident.severity = firing
    return ["alert_count", "title", "severity"]
