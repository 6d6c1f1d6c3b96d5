"""The incident lifecycle: alerts raise, repeat, reopen, acknowledge and resolve incidents;
people acknowledge, resolve, reopen and add notes. Every state change writes its timeline
entry in the same transaction.
"""

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from changes.models import ChangeEvent
from common.exceptions import DomainError
from common.rows import cursor, insert_rows, load_row, select_list, update_row
from incidents import grouping, tasks
from incidents.adapters.base import AlertAction, CanonicalAlert
from incidents.models import (
    Alert,
    AlertReceipt,
    Incident,
    IncidentComponent,
    SuspectChange,
    TimelineEntry,
)
from incidents.presenters import change_name
from pipelines.deliveries import record_delivery
from pipelines.exceptions import ReplayedSignature
from pipelines.models import AlertSource, Delivery, SeenSignature, Severity
from pipelines.services import forget_stale_signatures
from teams.components import forget_catalog, normalise_component_name, resolve_component_id
from teams.models import Component, Team

DETAILS_LIMIT = 10_000  # characters of JSON kept per timeline entry
# What a join reads of its storm, once its alert is in: the first alert's title (by index), and
# the components.
STORM_STATE_SQL = (
    "SELECT 'first', title FROM (SELECT title FROM incidents_alert WHERE incident_id = %s "
    "ORDER BY started_at, id LIMIT 1) AS earliest "
    "UNION ALL SELECT 'component', name FROM incidents_incidentcomponent WHERE incident_id = %s"
)
# Timeline entries of the alerts being processed: nothing reads them back before commit, so they
# wait, and go in one statement with the request's delivery record (process_alerts).
_deferred_rows: ContextVar[list[Model] | None] = ContextVar("deferred_rows", default=None)


class Outcome(StrEnum):
    """What an alert did, as the ingest answer says it."""

    RAISED = "raised"
    GROUPED = "grouped"  # joined an open incident of its storm
    REPEAT = "repeat"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    IGNORED = "ignored"


@dataclass(frozen=True)
class AlertResult:
    incident: Incident | None
    outcome: Outcome
    reason: str = ""
    duplicate: bool = False


@dataclass(frozen=True)
class Actor:
    """Who changed an incident: a person, an alert source, or a rule."""

    name: str
    user: AbstractBaseUser | None = None

    @classmethod
    def of_user(cls, user: AbstractBaseUser) -> "Actor":
        return cls(name=user.get_username(), user=user)

    @classmethod
    def of_source(cls, source: AlertSource) -> "Actor":
        return cls(name=source.name)


class IncidentStateError(DomainError):
    status = 409
    code = "invalid_transition"


def process_alerts(
    *,
    source: AlertSource,
    alerts: list[CanonicalAlert],
    received_at: datetime,
    signature: str = "",
    delivery: Callable[[list[AlertResult]], Delivery] | None = None,
) -> list[AlertResult]:
    """Apply a producer's alerts to the source's incidents, in order, in one transaction.

    `signature`, for signed webhooks, is remembered in the same transaction: the same signed
    request twice raises ReplayedSignature and changes nothing. A source that groups alerts
    applies them one request at a time (grouping.serialise_grouping), so a storm arriving at
    once still becomes one incident. `delivery` makes the request's delivery record from the
    results, stored in the same transaction.

    Two alerts of one alias arriving at once: the partial unique index lets one create its
    alert, and the other's transaction, rolled back, is applied again as its repeat. The
    component catalog is read before the transaction, where the cached catalog answers; should
    it name a component deleted since (its foreign key fails at commit), again with it afresh.
    """
    for attempt in range(3):
        names = {name for alert in alerts for name in _component_names(source, alert)}
        component_ids = {name: resolve_component_id(name) for name in names}
        try:
            return _process_alerts(
                source=source,
                alerts=alerts,
                received_at=received_at,
                signature=signature,
                component_ids={name: id_ for name, id_ in component_ids.items() if id_},
                delivery=delivery,
            )
        except IntegrityError:
            forget_catalog()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic(durable=True)  # 2xx means committed: nobody may wrap this
def _process_alerts(
    *,
    source: AlertSource,
    alerts: list[CanonicalAlert],
    received_at: datetime,
    signature: str,
    component_ids: Mapping[str, int],
    delivery: Callable[[list[AlertResult]], Delivery] | None,
) -> list[AlertResult]:
    if source.grouping_minutes and any(alert.action != AlertAction.RESOLVE for alert in alerts):
        grouping.serialise_grouping()
    if signature:
        try:
            with transaction.atomic():
                SeenSignature.objects.create(
                    alert_source=source, signature=signature[:200], seen_at=received_at
                )
        except IntegrityError:
            raise ReplayedSignature() from None
    # Row locks in alias order, whatever order the producer sent: two requests carrying the
    # same alerts in different orders would otherwise deadlock. Each alias keeps its own order.
    in_lock_order = sorted(range(len(alerts)), key=lambda index: alerts[index].alias)
    deferred: list[Model] = []
    token = _deferred_rows.set(deferred)
    try:
        results = {
            index: _process(source, alerts[index], received_at, component_ids)
            for index in in_lock_order
        }
    finally:
        _deferred_rows.reset(token)
    ordered = [results[index] for index in range(len(alerts))]
    if delivery is not None:
        deferred.append(delivery(ordered))
    if deferred:
        insert_rows(*deferred)
    return ordered


def _process(
    source: AlertSource,
    alert: CanonicalAlert,
    received_at: datetime,
    component_ids: Mapping[str, int],
) -> AlertResult:
    receipt = None
    if alert.idempotency_key:
        try:
            with transaction.atomic():
                receipt = AlertReceipt.objects.create(
                    alert_source=source,
                    idempotency_key=alert.idempotency_key,
                    action="",
                    received_at=received_at,
                )
        except IntegrityError:  # a redelivery (SNS and EventBridge deliver at least once)
            first = AlertReceipt.objects.select_related("incident").get(
                alert_source=source, idempotency_key=alert.idempotency_key
            )
            return AlertResult(first.incident, Outcome(first.action or "ignored"), duplicate=True)
    result = _apply(source, alert, received_at, component_ids)
    if receipt is not None:
        receipt.incident, receipt.action = result.incident, result.outcome
        receipt.save(update_fields=("incident", "action"))
    return result


def _apply(
    source: AlertSource,
    alert: CanonicalAlert,
    received_at: datetime,
    component_ids: Mapping[str, int],
) -> AlertResult:
    if alert.action == AlertAction.INSUFFICIENT_DATA:
        if source.insufficient_data == AlertSource.InsufficientData.IGNORE:
            return AlertResult(
                None, Outcome.IGNORED, "INSUFFICIENT_DATA and the source is set to ignore it"
            )
        return _trigger(source, alert, received_at, component_ids, severity=Severity.MEDIUM)
    if alert.action == AlertAction.TRIGGER:
        return _trigger(source, alert, received_at, component_ids)
    firing = _firing_alert(source, alert.alias)
    if firing is None:
        return AlertResult(None, Outcome.IGNORED, f"no open incident with alias {alert.alias!r}")
    incident = firing.incident
    actor = Actor.of_source(source)
    at = alert.occurred_at or received_at
    if alert.action == AlertAction.RESOLVE:
        _resolve_alert(incident, firing, actor=actor, at=at)
        return AlertResult(incident, Outcome.RESOLVED)
    _acknowledge(incident, actor=actor, at=at)
    return AlertResult(incident, Outcome.ACKNOWLEDGED)


def _trigger(
    source: AlertSource,
    alert: CanonicalAlert,
    received_at: datetime,
    component_ids: Mapping[str, int],
    severity: str = "",
) -> AlertResult:
    firing = _firing_alert(source, alert.alias)
    if firing is not None:
        return _repeat(firing.incident, source, alert, received_at)
    # The reopen window counts from when the alert arrives: a flapping alarm stays one incident.
    reopenable = _reopenable(source, alert.alias, received_at)
    if reopenable is not None:
        incident = reopen_incident(
            incident=reopenable.incident,
            actor=Actor.of_source(source),
            at=received_at,
            alerts=[reopenable],
        )
        return AlertResult(incident, Outcome.REOPENED)
    started_at = alert.occurred_at or received_at
    severity = severity or alert.severity or source.default_severity
    names = _component_names(source, alert)
    # The names the catalog knows, and their components.
    catalog = {name: component_ids[name] for name in names if name in component_ids}
    team = _team(source, alert, [catalog[name] for name in names if name in catalog])
    storm = None
    if alert.event_type != "test":  # Settings' test alert never joins a real incident
        storm = grouping.incident_to_join(
            source=source,
            names=names,
            component_ids=list(catalog.values()),
            team=team,
            started_at=started_at,
        )
    # Two alerts of one alias at the same instant: the partial unique index lets one create its
    # alert, and the other's IntegrityError rolls its request back (process_alerts applies it
    # again, as the repeat it is).
    if storm is not None:
        added = _join(storm, source, alert, started_at, received_at, severity, catalog)
    else:
        incident = _create(source, alert, started_at, severity, names, catalog, team)
    if storm is not None:
        if added:  # the storm reached another component: its suspects may have changed
            _hand_to_correlation(storm.pk)
        return AlertResult(storm, Outcome.GROUPED)
    _hand_to_correlation(incident.pk)
    return AlertResult(incident, Outcome.RAISED)


def _component_names(source: AlertSource, alert: CanonicalAlert) -> list[str]:
    """The alert's components, normalised, else its source's defaults."""
    names = [normalise_component_name(name) for name in alert.components]
    names = list(dict.fromkeys(name for name in names if name))
    if not names and alert.event_type != "test":
        # Settings' test alert names no component: it proves the wiring, and must not count
        # as an incident of the source's components (component pages, change failure rate).
        names = [normalise_component_name(name) for name in source.default_components]
    return [name for name in names if name]


def _join(
    incident: Incident,
    source: AlertSource,
    alert: CanonicalAlert,
    started_at: datetime,
    received_at: datetime,
    severity: str,
    catalog: Mapping[str, int],
) -> bool:
    """Add an alert to an open incident of its storm; True when it brought new components.

    The incident's count, title and severity as grouping.follow_alerts would set them, without
    reading every alert of the storm (each join would be slower than the last): the count goes
    up by one, the severity is the higher of the incident's (its highest firing alert's: an
    open incident has one) and the new alert's, and the title is the first alert's.
    """
    title = alert.title or alert.alias
    insert_rows(
        Alert(
            incident=incident,
            alert_source=source,
            alias=alert.alias,
            title=title,
            severity=severity,
            started_at=started_at,
        )
    )
    with cursor() as read:
        read.execute(STORM_STATE_SQL, [incident.pk, incident.pk])
        state = read.fetchall()
    first_title = next(value for kind, value in state if kind == "first")
    known = {value for kind, value in state if kind == "component"}
    added = [name for name in catalog if name not in known]
    if added:
        insert_rows(
            *(
                IncidentComponent(incident=incident, name=name, component_id=catalog[name])
                for name in added
            )
        )
    incident.alert_count += 1
    incident.title = grouping.storm_title(first_title, incident.alert_count)
    incident.severity = grouping.highest_severity([incident.severity, severity]) or severity
    incident.last_alert_at = max(incident.last_alert_at, received_at)
    update_row(incident, ("alert_count", "title", "severity", "last_alert_at"))
    _timeline(
        incident,
        TimelineEntry.Kind.JOINED,
        Actor.of_source(source),
        received_at,
        alert,
        alias=alert.alias,
        severity=severity,
        text=f"{title} joined",
    )
    return bool(added)


def _create(
    source: AlertSource,
    alert: CanonicalAlert,
    started_at: datetime,
    severity: str,
    names: list[str],
    catalog: Mapping[str, int],
    team: Team | None,
) -> Incident:
    """A new incident with its first alert and its components, in one statement."""
    incident = Incident(
        title=alert.title or alert.alias,
        description=alert.description,
        severity=severity,
        alias=alert.alias,
        alert_source=source,
        team=team,
        environment=alert.environment,
        tags=list(alert.tags)[:50],
        links=[dict(link) for link in alert.links],
        started_at=started_at,
        last_alert_at=started_at,
    )
    first = Alert(
        incident=incident,
        alert_source=source,
        alias=alert.alias,
        title=incident.title,
        severity=severity,
        started_at=started_at,
    )
    components = [
        IncidentComponent(incident=incident, name=name, component_id=catalog.get(name))
        for name in names
    ]
    children = [first, *components]
    insert_rows(incident, *children, links=[(row, "incident", incident) for row in children])
    _timeline(incident, TimelineEntry.Kind.ALERT, Actor.of_source(source), started_at, alert)
    return incident


def _team(source: AlertSource, alert: CanonicalAlert, component_ids: list[int]) -> Team | None:
    if alert.team:
        named = Team.objects.filter(slug=alert.team).first()
        if named is not None:
            return named
    if source.team_id is not None:
        return source.team
    if not component_ids:
        return None
    owned = Component.objects.filter(pk__in=component_ids, owner_team__isnull=False)
    owned = owned.select_related("owner_team")
    owners = {component.pk: component.owner_team for component in owned}
    return next((owners[pk] for pk in component_ids if pk in owners), None)


def _repeat(
    incident: Incident, source: AlertSource, alert: CanonicalAlert, received_at: datetime
) -> AlertResult:
    incident.repeat_count += 1
    incident.last_alert_at = received_at
    update_row(incident, ("repeat_count", "last_alert_at"))
    _timeline(incident, TimelineEntry.Kind.REPEAT, Actor.of_source(source), received_at, alert)
    return AlertResult(incident, Outcome.REPEAT)


def _firing_alert(source: AlertSource, alias: str) -> Alert | None:
    """The alias's firing alert, with its incident, both locked (the incident read as its
    latest version): the alias's alerts are applied one at a time, whatever process receives
    them. One hand-written statement: the ORM's would cost ten times as much to build."""
    with cursor() as read:
        read.execute(_firing_alert_sql(), [source.pk, alias, str(Alert.Status.TRIGGERED)])
        row = read.fetchone()
    if row is None:
        return None
    width = len(Alert._meta.concrete_fields)
    alert = load_row(Alert, row[:width])
    alert.incident = load_row(Incident, row[width:])
    return alert


@cache
def _firing_alert_sql() -> str:
    return (
        f"SELECT {select_list(Alert, 'a')}, {select_list(Incident, 'i')} "  # noqa: S608 (columns)
        "FROM incidents_alert a JOIN incidents_incident i ON i.id = a.incident_id "
        "WHERE a.alert_source_id = %s AND a.alias = %s AND a.status = %s "
        "ORDER BY a.started_at, a.id LIMIT 1"
        + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    )


def _reopenable(source: AlertSource, alias: str, at: datetime) -> Alert | None:
    """The alias's alert of a recently resolved incident, which a new alert reopens."""
    if not source.reopen_window_minutes:
        return None
    since = at - timedelta(minutes=source.reopen_window_minutes)
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(alert_source=source, alias=alias, incident__status=Incident.Status.RESOLVED)
        .filter(incident__resolved_at__gte=since)
        .order_by("-incident__resolved_at", "-id")
        .first()
    )


def _timeline(
    incident: Incident,
    kind: str,
    actor: Actor,
    at: datetime,
    alert: CanonicalAlert | None = None,
    **data: str,
) -> TimelineEntry:
    if alert is not None:
        data = {
            "title": alert.title,
            "description": alert.description[:2000],
            "details": _bounded(alert.details),
            **data,
        }
        data = {key: value for key, value in data.items() if value}
    entry = TimelineEntry(
        incident=incident, at=at, kind=kind, actor=actor.name, user=actor.user, data=data
    )
    deferred = _deferred_rows.get()
    if deferred is None:
        entry.save(force_insert=True)
    else:  # stored when process_alerts ends, with others
        deferred.append(entry)
    return entry


def _bounded(details: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the producer sent beside the alert, kept on its timeline entry unless it is huge."""
    return details if len(json.dumps(details, default=str)) <= DETAILS_LIMIT else {}


def _acknowledge(incident: Incident, *, actor: Actor, at: datetime) -> None:
    if incident.status != Incident.Status.TRIGGERED:
        return
    incident.status = Incident.Status.ACKNOWLEDGED
    incident.acknowledged_at = at
    incident.acknowledged_by = actor.user
    incident.save(update_fields=("status", "acknowledged_at", "acknowledged_by"))
    _timeline(incident, TimelineEntry.Kind.ACKNOWLEDGED, actor, at)


def _resolve_alert(incident: Incident, alert: Alert, *, actor: Actor, at: datetime) -> None:
    """The source says one alarm recovered: that alert resolves, and the incident with it when
    none of its alerts is still firing."""
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = max(at, alert.started_at)
    alert.save(update_fields=("status", "resolved_at"))
    if not incident.alerts.filter(status=Alert.Status.TRIGGERED).exists():
        _resolve(incident, actor=actor, at=at, rule="source recovered")
        return
    incident.save(update_fields=grouping.follow_alerts(incident))
    _timeline(
        incident,
        TimelineEntry.Kind.ALERT_RESOLVED,
        actor,
        alert.resolved_at,
        alias=alert.alias,
        text=f"{alert.title} resolved",
    )


def _resolve(incident: Incident, *, actor: Actor, at: datetime, rule: str = "") -> None:
    if incident.status == Incident.Status.RESOLVED:
        return
    # A person or the quiet period resolves the incident: every alert still firing with it.
    incident.alerts.filter(status=Alert.Status.TRIGGERED).update(
        status=Alert.Status.RESOLVED, resolved_at=max(at, incident.started_at)
    )
    incident.status = Incident.Status.RESOLVED
    incident.resolved_at = max(at, incident.started_at)
    incident.resolved_by = actor.user
    incident.resolved_by_rule = rule
    incident.save(update_fields=("status", "resolved_at", "resolved_by", "resolved_by_rule"))
    _timeline(incident, TimelineEntry.Kind.RESOLVED, actor, incident.resolved_at, reason=rule)


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


@transaction.atomic
def acknowledge_incident(*, incident: Incident, actor: Actor) -> Incident:
    """Acknowledge a triggered incident. Idempotent; refuses a resolved one (reopen it first)."""
    incident = _locked(incident)
    if incident.status == Incident.Status.RESOLVED:
        raise IncidentStateError("A resolved incident cannot be acknowledged; reopen it first.")
    _acknowledge(incident, actor=actor, at=timezone.now())
    return incident


@transaction.atomic
def resolve_incident(*, incident: Incident, actor: Actor, rule: str = "") -> Incident:
    """Resolve an open incident. Idempotent."""
    incident = _locked(incident)
    _resolve(incident, actor=actor, at=timezone.now(), rule=rule)
    return incident


@transaction.atomic
def reopen_incident(
    *,
    incident: Incident,
    actor: Actor,
    at: datetime | None = None,
    alerts: list[Alert] | None = None,
) -> Incident:
    """Reopen a resolved incident. Idempotent; the alias's new alerts then repeat on it.

    `alerts` fire again (an alarm that came back reopens with its own alert only); a person's
    reopen fires each alias's latest alert again. Raises IncidentStateError when one of those
    aliases fires on another incident.
    """
    incident = _locked(incident)
    if incident.status != Incident.Status.RESOLVED:
        return incident
    if alerts is None:
        latest: dict[tuple[int | None, str], Alert] = {}
        for alert in incident.alerts.order_by("started_at", "id"):
            latest[(alert.alert_source_id, alert.alias or f"#{alert.pk}")] = alert
        alerts = list(latest.values())
    for alert in alerts:
        twin = Alert.objects.filter(
            alert_source=alert.alert_source_id, alias=alert.alias, status=Alert.Status.TRIGGERED
        ).exclude(pk=alert.pk)
        if alert.alias and twin.exists():
            raise IncidentStateError("Another incident with this alias is open; use that one.")
    Alert.objects.filter(pk__in=[alert.pk for alert in alerts]).update(
        status=Alert.Status.TRIGGERED, resolved_at=None
    )
    incident.save(update_fields=grouping.follow_alerts(incident))
    incident.status = Incident.Status.TRIGGERED
    incident.resolved_at = None
    incident.resolved_by = None
    incident.resolved_by_rule = ""
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    incident.save(
        update_fields=(
            "status",
            "resolved_at",
            "resolved_by",
            "resolved_by_rule",
            "acknowledged_at",
            "acknowledged_by",
        )
    )
    _timeline(incident, TimelineEntry.Kind.REOPENED, actor, at or timezone.now())
    return incident


@transaction.atomic
def add_note(*, incident: Incident, actor: Actor, text: str) -> TimelineEntry:
    """A note on the timeline."""
    text = text.strip()
    if not text:
        raise DomainError(
            "A note needs some text.", fields={"text": ["This field may not be blank."]}
        )
    return _timeline(incident, TimelineEntry.Kind.NOTE, actor, timezone.now(), text=text[:10_000])


@transaction.atomic
def set_verdict(*, incident: Incident, change_id: int, verdict: str, actor: Actor) -> SuspectChange:
    """An engineer's verdict on a suspect: the confirmed cause, not related, or "" (not
    reviewed). Kept when correlation runs again; who and when are stored on the suspect."""
    if verdict not in SuspectChange.Verdict.values:
        raise DomainError(
            "Mark the change as the confirmed cause or as not related.",
            fields={"verdict": [f"{verdict!r} is not a valid choice."]},
        )
    suspect = (
        SuspectChange.objects.select_for_update(of=("self",))
        .select_related("change")
        .filter(incident=incident, change_id=change_id)
        .first()
    )
    if suspect is None:
        raise DomainError(
            "That change is no longer a suspect of this incident; reload the page to see why."
        )
    if suspect.verdict == verdict:
        return suspect  # a second click: nothing changed, nothing to record
    suspect.verdict = verdict
    suspect.verdict_by = actor.user
    suspect.verdict_at = timezone.now()
    suspect.save(update_fields=("verdict", "verdict_by", "verdict_at"))
    # On the timeline too: the postmortem shows who decided what, and when.
    _timeline(
        incident,
        TimelineEntry.Kind.VERDICT,
        actor,
        suspect.verdict_at,
        verdict=verdict,
        change_id=str(change_id),
        change=change_name(suspect.change),
    )
    return suspect


def _hand_to_correlation(incident_id: int) -> None:
    # After commit, so the worker sees the incident. Broker down: logged, the sweep catches up.
    transaction.on_commit(lambda: tasks.correlate_incident.delay(incident_id), robust=True)


def auto_resolve_quiet_incidents(*, now: datetime | None = None) -> int:
    """Resolve open incidents whose source has a quiet period and sent no repeat within it.

    Run by Celery beat. Idempotent; returns how many it resolved.
    """
    now = now or timezone.now()
    resolved = 0
    quiet = Incident.objects.filter(
        status__in=Incident.OPEN_STATUSES, alert_source__quiet_period_minutes__isnull=False
    ).select_related("alert_source")
    for incident in quiet:  # open incidents of quiet-period sources: a short list
        period = timedelta(minutes=incident.alert_source.quiet_period_minutes)
        if incident.last_alert_at + period <= now:
            resolve_incident(
                incident=incident, actor=Actor(name="quiet period"), rule="quiet period"
            )
            resolved += 1
    return resolved


def apply_retention(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than the configured ages. Run daily by Celery beat."""
    now = now or timezone.now()
    days = settings.RETENTION_DAYS
    deleted = {
        "changes": ChangeEvent.objects.filter(
            occurred_at__lt=now - timedelta(days=days["changes"])
        ).delete()[0],
        # Incidents only: their alerts, timeline and suspects go with them.
        "incidents": Incident.objects.filter(
            status=Incident.Status.RESOLVED, resolved_at__lt=now - timedelta(days=days["incidents"])
        )
        .delete()[1]
        .get(Incident._meta.label, 0),
        "deliveries": Delivery.objects.filter(
            received_at__lt=now - timedelta(days=days["deliveries"])
        ).delete()[0],
        "alert_receipts": AlertReceipt.objects.filter(
            received_at__lt=now - timedelta(days=days["deliveries"])
        ).delete()[0],
        # Kept while a replay could still pass the timestamp check (at least two days).
        "seen_signatures": forget_stale_signatures(now=now),
    }
    return deleted


def send_test_alert(*, source: AlertSource, by: AbstractBaseUser) -> Incident:
    """Settings' "Send test alert": an info incident through the source, as a producer would."""
    received_at = timezone.now()
    alert = CanonicalAlert(
        action=AlertAction.TRIGGER,
        alias="whatchanged-test",
        title=f"Test alert sent from Settings by {by.get_username()}",
        severity=Severity.INFO,
        event_type="test",
    )
    (result,) = process_alerts(source=source, alerts=[alert], received_at=received_at)
    record_delivery(
        integration=source,
        received_at=received_at,
        event_type="test",
        status_code=202,
        outcome=Delivery.Outcome.ACCEPTED,
        reason=f"test alert: {result.outcome}",
        body=b"",
        object_id=result.incident.pk,
    )
    return result.incident
