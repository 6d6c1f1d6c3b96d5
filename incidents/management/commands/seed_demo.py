import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from changes.models import ChangeEvent
from changes.ownership import change_team_id
from incidents.correlation import correlate_incident
from incidents.models import Incident, IncidentComponent, SuspectChange, TimelineEntry
from incidents.presenters import change_name
from pipelines.config_as_code import apply_config
from pipelines.models import AlertSource, DeploymentPipeline, Severity
from teams.models import Component, Membership, Team

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "whatchanged-demo"  # noqa: S105 (printed for the demo on purpose)

CATALOG = {
    "teams": [
        {"slug": "payments", "name": "Payments"},
        {"slug": "checkout", "name": "Checkout"},
        {"slug": "platform", "name": "Platform"},
    ],
    "components": [
        {"name": "postgres-main", "team": "platform", "aliases": ["pg-main"]},
        {"name": "payments-db", "team": "payments", "aliases": ["payments-rds"]},
        {
            "name": "payments-service",
            "team": "payments",
            "aliases": ["payments-prod", "payments"],
            "depends_on": ["payments-db", "postgres-main"],
        },
        {"name": "inventory-service", "team": "checkout", "aliases": ["inventory"]},
        {
            "name": "checkout-api",
            "team": "checkout",
            "aliases": ["checkout-api-prod", "checkout-service"],
            "depends_on": ["payments-service", "inventory-service"],
        },
        {"name": "checkout-web", "team": "checkout", "depends_on": ["checkout-api"]},
        {"name": "orders-consumer", "team": "platform", "depends_on": ["postgres-main"]},
        {"name": "notifications-worker", "team": "platform", "aliases": ["notifications"]},
    ],
    "pipelines": [
        {"name": "payments-github", "kind": "github", "team": "payments"},
        {"name": "payments-codepipeline", "kind": "codepipeline", "team": "payments"},
        {"name": "checkout-gitlab", "kind": "gitlab", "team": "checkout"},
        {"name": "platform-terraform", "kind": "generic", "team": "platform"},
        {"name": "ansible-changes", "kind": "pagerduty", "team": "platform"},
    ],
    "alert_sources": [
        {
            "name": "cloudwatch-prod",
            "kind": "cloudwatch_sns",
            "team": "payments",
            "default_severity": "critical",
            "default_components": ["payments-service"],
        },
        {"name": "prometheus", "kind": "alertmanager", "team": "platform"},
        {"name": "grafana-checkout", "kind": "grafana", "team": "checkout"},
        {"name": "incidents-api", "kind": "generic"},
    ],
}
PEOPLE = ["dana-ops", "mkowalski", "priya.n", "tberg", "lena.fischer", "j.meyer"]
ENVIRONMENTS = ["production"] * 6 + ["staging"] * 3 + ["dev"]
CHANGE_COUNT = 500
# The open HighErrorRate incident starts 25 minutes ago; its culprit deployed 8 minutes before.
CULPRIT_MINUTES_AGO = 33

# (alert source, alias, title, severity, components, minutes ago, status)
STORIES = [
    (
        "cloudwatch-prod",
        "cloudwatch-HighErrorRate",
        "HighErrorRate",
        Severity.CRITICAL,
        ["payments-service"],
        25,
        "triggered",
    ),
    (
        "prometheus",
        "8c1f0a27d3e4b5a6",
        "p99 latency above 1.5s on checkout-api",
        Severity.HIGH,
        ["checkout-api"],
        50,
        "acknowledged",
    ),
    (
        "grafana-checkout",
        "00877cff2d3caa9b",
        "Checkout 5xx ratio above 5%",
        Severity.HIGH,
        ["checkout-web"],
        26 * 60,
        "resolved",
    ),
    (
        "incidents-api",
        "orders-db/replica-lag",
        "orders replica lag above 30 s",
        Severity.MEDIUM,
        ["orders-consumer"],
        3 * 24 * 60,
        "resolved",
    ),
]
# Changes before the resolved incidents, and the verdicts of the engineers who handled them: the
# cause confirmed, what correlation ranked above it not related. So Insights shows ranking
# accuracy on first visit. (key, incident alias, minutes before it, pipeline, component, kind,
# summary, version, the confirmed cause?)
PAST_CHANGES = (
    (
        "demo-checkout-web-v2.14.0",
        "00877cff2d3caa9b",
        12,
        "checkout-gitlab",
        "checkout-web",
        "deployment",
        "Deploy checkout-web v2.14.0 to production",
        "v2.14.0",
        True,
    ),
    (
        "demo-orders-consumer-v1.9.2",
        "orders-db/replica-lag",
        35,
        "ansible-changes",
        "orders-consumer",
        "deployment",
        "Deploy orders-consumer v1.9.2 to production",
        "v1.9.2",
        False,
    ),
    (
        "demo-postgres-main-wal-senders",
        "orders-db/replica-lag",
        18,
        "platform-terraform",
        "postgres-main",
        "infrastructure",
        "Lower postgres-main max_wal_senders to 4",
        "",
        True,
    ),
)
# When the engineers gave their verdicts: after the acknowledgement (7), before the fix (30).
VERDICT_MINUTES = 25


class Command(BaseCommand):
    help = "Load demo teams, components, integrations, ~500 changes and incidents. Idempotent."

    def handle(self, *args: object, **options: object) -> None:
        with transaction.atomic():
            apply_config(CATALOG)
            user = self._demo_user()
            changes = self._changes()
            incidents = self._incidents(user)
        # Correlated here rather than by the worker, so the first page view already has them.
        for incident_id in Incident.objects.filter(correlated_at=None).values_list("id", flat=True):
            correlate_incident(incident_id=incident_id)
        with transaction.atomic():
            self._verdicts(user)
            _note_last_events()
        self.stdout.write(
            f"Demo data ready: {changes} new change events, {incidents} new incidents.\n"
            f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}"
        )

    def _demo_user(self) -> AbstractBaseUser:
        user, _ = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        for team in Team.objects.filter(slug__in=[t["slug"] for t in CATALOG["teams"]]):
            Membership.objects.get_or_create(
                user=user, team=team, defaults={"role": Membership.Role.ADMIN}
            )
        return user

    def _changes(self) -> int:
        rng = random.Random(7)  # noqa: S311 (demo data, not security)
        now = timezone.now()
        components_by_team: dict[int, list[Component]] = {}
        for component in Component.objects.exclude(owner_team=None):
            components_by_team.setdefault(component.owner_team_id, []).append(component)
        pipelines = list(DeploymentPipeline.objects.filter(name__in=_names("pipelines")))
        events = []
        for number in range(CHANGE_COUNT):
            pipeline = rng.choice(pipelines)
            component = rng.choice(components_by_team[pipeline.team_id])
            environment = rng.choice(ENVIRONMENTS)
            roll = rng.random()
            outcome = "failed" if roll < 0.1 else "started" if roll < 0.14 else "succeeded"
            kind = "infrastructure" if pipeline.name == "platform-terraform" else "deployment"
            if kind == "deployment" and rng.random() < 0.05:
                kind = "rollback"
            version = f"v{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
            occurred_at = now - timedelta(minutes=rng.randint(1, 7 * 24 * 60))
            if outcome == "started" and occurred_at < now - timedelta(minutes=20):
                outcome = "succeeded"  # only recent rollouts are still under way
            rollout = timedelta(minutes=rng.randint(1, 12))
            events.append(
                ChangeEvent(
                    pipeline=pipeline,
                    idempotency_key=f"demo-{number}",
                    occurred_at=occurred_at,
                    started_at=occurred_at if outcome == "started" else occurred_at - rollout,
                    # A finished rollout's span ends: correlation and Insights' durations read it.
                    finished_at=None if outcome == "started" else occurred_at,
                    received_at=occurred_at + timedelta(seconds=rng.randint(1, 30)),
                    component=component.name,
                    resolved_component=component,
                    team_id=change_team_id(pipeline=pipeline, component_id=component.pk),
                    environment=environment,
                    kind=kind,
                    outcome=outcome,
                    summary=f"{kind.title()} {component.name} {version} to {environment}",
                    triggered_by=rng.choice(PEOPLE),
                    version=version,
                    commit=f"{rng.getrandbits(160):040x}",
                    links=[{"href": f"https://ci.example.com/runs/{number}", "text": "CI run"}],
                    metadata={"demo": True},
                    correlated_at=now,
                )
            )
        culprit = self._culprit(now)
        events.extend([culprit, *self._past_changes(now)])
        before = ChangeEvent.objects.count()
        ChangeEvent.objects.bulk_create(events, ignore_conflicts=True)
        self._second_report(culprit)
        return ChangeEvent.objects.count() - before

    def _culprit(self, now: datetime) -> ChangeEvent:
        """The deployment the demo's open HighErrorRate incident should point at: a six-minute
        rollout that GitHub reported when it started and when it succeeded."""
        component = Component.objects.get(name="payments-service")
        pipeline = DeploymentPipeline.objects.get(name="payments-github")
        occurred_at = now - timedelta(minutes=CULPRIT_MINUTES_AGO)
        started_at = occurred_at - timedelta(minutes=6)
        return ChangeEvent(
            pipeline=pipeline,
            idempotency_key="demo-culprit",
            identity="deployment:1001",
            occurred_at=occurred_at,
            started_at=started_at,
            finished_at=occurred_at,
            events=[
                {"outcome": outcome, "at": at.isoformat(), "received_at": at.isoformat()}
                for outcome, at in (("started", started_at), ("succeeded", occurred_at))
            ],
            received_at=occurred_at + timedelta(seconds=4),
            component=component.name,
            resolved_component=component,
            team_id=change_team_id(pipeline=pipeline, component_id=component.pk),
            environment="production",
            summary="Deploy payments-service v4.7.0 to production",
            description="Retry card authorisations on gateway timeouts (#812)",
            triggered_by="dana-ops",
            version="v4.7.0",
            commit="9e41c07b3d2a8f61e5c4b0a9d8e7f6a5b4c3d2e1",
            links=[
                {"href": "https://github.com/acme-shop/payments-service/pull/812", "text": "PR"}
            ],
            correlated_at=now,
        )

    def _past_changes(self, now: datetime) -> list[ChangeEvent]:
        """PAST_CHANGES: what changed before the resolved incidents."""
        pipelines = {pipeline.name: pipeline for pipeline in DeploymentPipeline.objects.all()}
        components = {component.name: component for component in Component.objects.all()}
        minutes_ago = {story[1]: story[5] for story in STORIES}
        events = []
        for key, alias, before, pipeline, component, kind, summary, version, _ in PAST_CHANGES:
            occurred_at = now - timedelta(minutes=minutes_ago[alias] + before)
            events.append(
                ChangeEvent(
                    pipeline=pipelines[pipeline],
                    team_id=change_team_id(
                        pipeline=pipelines[pipeline], component_id=components[component].pk
                    ),
                    idempotency_key=key,
                    occurred_at=occurred_at,
                    started_at=occurred_at - timedelta(minutes=4),
                    finished_at=occurred_at,
                    received_at=occurred_at + timedelta(seconds=3),
                    component=component,
                    resolved_component=components[component],
                    environment="production",
                    kind=kind,
                    summary=summary,
                    triggered_by="priya.n",
                    version=version,
                    correlated_at=now,
                )
            )
        return events

    def _second_report(self, culprit: ChangeEvent) -> None:
        """CodePipeline reported the culprit's rollout too: one logical change, two reports."""
        first = ChangeEvent.objects.get(idempotency_key="demo-culprit")
        pipeline = DeploymentPipeline.objects.get(name="payments-codepipeline")
        ChangeEvent.objects.get_or_create(
            pipeline=pipeline,
            idempotency_key="demo-culprit-codepipeline",
            defaults={
                "same_as": first,
                "team_id": change_team_id(
                    pipeline=pipeline, component_id=culprit.resolved_component_id
                ),
                "occurred_at": culprit.occurred_at + timedelta(seconds=20),
                "started_at": culprit.started_at + timedelta(seconds=5),
                "received_at": culprit.occurred_at + timedelta(seconds=25),
                "component": culprit.component,
                "resolved_component": culprit.resolved_component,
                "environment": culprit.environment,
                "summary": "payments-service pipeline execution succeeded",
                "version": "main",
                "commit": culprit.commit,
                "correlated_at": culprit.correlated_at,
            },
        )

    def _incidents(self, user: AbstractBaseUser) -> int:
        now = timezone.now()
        sources = {source.name: source for source in AlertSource.objects.all()}
        created = 0
        for source_name, alias, title, severity, components, minutes_ago, status in STORIES:
            source = sources[source_name]
            if Incident.objects.filter(alert_source=source, alias=alias).exists():
                continue
            started_at = now - timedelta(minutes=minutes_ago)
            incident = Incident.objects.create(
                alert_source=source,
                alias=alias,
                title=title,
                severity=severity,
                status=status,
                team=source.team,
                environment="production",
                started_at=started_at,
                last_alert_at=started_at + timedelta(minutes=5),
                repeat_count=1,
            )
            IncidentComponent.objects.bulk_create(
                IncidentComponent(incident=incident, name=name, component=component)
                for name in components
                for component in [Component.objects.filter(name=name).first()]
            )
            entries = [
                TimelineEntry(incident=incident, at=started_at, kind="alert", actor=source.name),
                TimelineEntry(
                    incident=incident,
                    at=started_at + timedelta(minutes=5),
                    kind="repeat",
                    actor=source.name,
                ),
            ]
            if status in ("acknowledged", "resolved"):
                incident.acknowledged_at = started_at + timedelta(minutes=7)
                incident.acknowledged_by = user
                entries.append(_by_user(incident, user, incident.acknowledged_at, "acknowledged"))
            if status == "resolved":
                incident.resolved_at = started_at + timedelta(minutes=42)
                incident.resolved_by = user
                entries.append(
                    _by_user(
                        incident,
                        user,
                        started_at + timedelta(minutes=30),
                        "note",
                        text="Rolled back the last deploy; error rate recovering.",
                    )
                )
                entries.append(_by_user(incident, user, incident.resolved_at, "resolved"))
            incident.save()
            TimelineEntry.objects.bulk_create(entries)
            created += 1
        return created

    def _verdicts(self, user: AbstractBaseUser) -> None:
        """PAST_CHANGES' causes confirmed, and the suspects ranked above them marked not
        related, on the resolved incidents nobody gave a verdict on yet: on the suspect and on
        the timeline, as incidents.services.set_verdict records a verdict."""
        causes = {alias: key for key, alias, *_, is_cause in PAST_CHANGES if is_cause}
        judged = SuspectChange.objects.filter(incident=OuterRef("pk")).exclude(verdict="")
        incidents = Incident.objects.filter(alias__in=causes, resolved_at__isnull=False).exclude(
            Exists(judged)
        )
        suspects_judged: list[SuspectChange] = []
        entries = []
        for incident in incidents:
            suspects = list(incident.suspects.select_related("change").order_by("rank"))
            keys = [suspect.change.idempotency_key for suspect in suspects]
            if causes[incident.alias] not in keys:
                continue
            at = incident.started_at + timedelta(minutes=VERDICT_MINUTES)
            cause_rank = keys.index(causes[incident.alias])
            for index, suspect in enumerate(suspects[: cause_rank + 1]):
                suspect.verdict = (
                    SuspectChange.Verdict.CONFIRMED
                    if index == cause_rank
                    else SuspectChange.Verdict.UNRELATED
                )
                suspect.verdict_by, suspect.verdict_at = user, at
                suspects_judged.append(suspect)
                entries.append(
                    _by_user(
                        incident,
                        user,
                        at,
                        TimelineEntry.Kind.VERDICT,
                        verdict=suspect.verdict,
                        change_id=str(suspect.change_id),
                        change=change_name(suspect.change),
                    )
                )
        SuspectChange.objects.bulk_update(suspects_judged, ["verdict", "verdict_by", "verdict_at"])
        TimelineEntry.objects.bulk_create(entries)


def _note_last_events() -> None:
    """When each demo integration last delivered something, its newest change or alert, as
    ingest notes it (bulk_create went round ingest). Only where nothing is noted yet."""
    newest_change = ChangeEvent.objects.filter(pipeline=OuterRef("pk")).order_by("-received_at")
    DeploymentPipeline.objects.filter(name__in=_names("pipelines"), last_event_at=None).update(
        last_event_at=Subquery(newest_change.values("received_at")[:1])
    )
    newest_alert = Incident.objects.filter(alert_source=OuterRef("pk")).order_by("-last_alert_at")
    AlertSource.objects.filter(name__in=_names("alert_sources"), last_event_at=None).update(
        last_event_at=Subquery(newest_alert.values("last_alert_at")[:1])
    )


def _by_user(
    incident: Incident, user: AbstractBaseUser, at: datetime, kind: str, **data: str
) -> TimelineEntry:
    return TimelineEntry(
        incident=incident, at=at, kind=kind, actor=user.get_username(), user=user, data=data
    )


def _names(section: str) -> list[str]:
    return [entry["name"] for entry in CATALOG[section]]
