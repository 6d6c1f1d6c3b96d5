"""`bench_seed`: a big, realistic history for benchmarks (1,000,000 changes in under 2 minutes).

Every row it makes is marked: teams, components, aliases, pipelines and alert sources are named
`bench-…`, changes and incidents carry `bench-…` idempotency keys and aliases, so `--reset`
deletes only them. Changes and incidents are stored already correlated (`correlated_at` set)
so the sweep leaves them alone; benchmarks correlate on demand.
"""

import argparse
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from changes.models import ChangeEvent
from common.tokens import generate_token, hash_token, visible_prefix
from incidents.models import Alert, Incident, IncidentComponent, SuspectChange, TimelineEntry
from pipelines.models import AlertSource, DeploymentPipeline, Integration
from pipelines.services import KEY_PREFIXES, new_secret
from teams.components import forget_catalog
from teams.models import Component, ComponentAlias, Team

PREFIX = "bench-"
BATCH_SIZE = 5_000
# From this many rows on, building the plain indexes once beats maintaining them row by row.
REBUILD_INDEXES_FROM = 100_000
TEAM_WORDS = (
    "payments checkout platform search identity billing catalog shipping inventory "
    "notifications analytics mobile web data ml security infra growth ads messaging media "
    "pricing orders accounts support risk fraud reporting partners storage"
).split()
SERVICES = ("api", "worker", "web", "db", "cache", "consumer", "scheduler", "gateway")
ALIAS_SUFFIXES = ("-prod", "-svc")
PIPELINE_KINDS = (
    ("github",) * 4 + ("gitlab",) * 2 + ("codepipeline",) * 2 + ("generic", "pagerduty")
)
SOURCE_KINDS = tuple(AlertSource.Kind.values)
PEOPLE = ("dana-ops", "mkowalski", "priya.n", "tberg", "lena.fischer", "j.meyer", "sam", "ci-bot")
ENVIRONMENTS = ("production",) * 8 + ("staging",) * 3 + ("dev",)
CHANGE_KINDS = ("deployment",) * 16 + ("rollback", "config", "feature_flag", "other")
SUMMARY_VERBS = {"deployment": "Deploy", "rollback": "Roll back", "infrastructure": "Apply"}
METADATA = tuple(
    json.dumps({"bench": True, "branch": branch, "duration_seconds": seconds})
    for branch in ("main", "main", "main", "release")
    for seconds in (42, 95, 180, 610)
)
SEVERITIES = ("critical",) + ("high",) * 3 + ("medium",) * 4 + ("low",) * 2
ALERTS = (
    "HighErrorRate",
    "p99 latency above 1.5s",
    "5xx ratio above 5%",
    "CPU above 90%",
    "Memory pressure",
    "Queue backlog growing",
    "Pod crash looping",
    "Disk almost full",
)
CHANGE_COLUMNS = (
    "occurred_at",
    "started_at",
    "finished_at",
    "identity",
    "events",
    "received_at",
    "component",
    "resolved_component_id",
    "environment",
    "kind",
    "outcome",
    "summary",
    "description",
    "triggered_by",
    "version",
    "commit",
    "links",
    "metadata",
    "pipeline_id",
    "team_id",
    "idempotency_key",
    "correlated_at",
)
TIMELINE_COLUMNS = ("incident_id", "at", "kind", "actor", "data")
INCIDENT_COMPONENT_COLUMNS = ("incident_id", "name", "component_id")
ALERT_COLUMNS = (
    "incident_id",
    "alert_source_id",
    "alias",
    "title",
    "severity",
    "status",
    "started_at",
    "resolved_at",
)
# The tables ANALYZEd afterwards, so benchmarks plan with real statistics.
BIG_MODELS = (ChangeEvent, Incident, IncidentComponent, TimelineEntry)

IntegrationT = TypeVar("IntegrationT", bound=Integration)
# A component as changes and alerts name it: (id, (name, *aliases)).
Target = tuple[int, tuple[str, ...]]


@dataclass
class Catalog:
    """The bench catalog, as the row generators need it (ids and names, no model instances)."""

    targets_by_team: dict[int, list[Target]] = field(default_factory=dict)
    all_targets: list[Target] = field(default_factory=list)
    owner_by_component: dict[int, int] = field(default_factory=dict)

    def targets(self, team_id: int | None) -> list[Target]:
        """What a team's pipelines deploy and its alerts name; team-less ones touch anything."""
        return self.targets_by_team[team_id] if team_id else self.all_targets


class Command(BaseCommand):
    help = (
        "Load a big, realistic history for benchmarks (bench- rows only). COPY on PostgreSQL, "
        "bulk_create elsewhere. Refuses (exit 2) when bench data exists, unless --reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--changes", type=_non_negative, default=1_000_000)
        parser.add_argument("--incidents", type=_non_negative, default=10_000)
        parser.add_argument("--components", type=_non_negative, default=300)
        parser.add_argument("--pipelines", type=_non_negative, default=200)
        parser.add_argument("--alert-sources", type=_non_negative, default=40)
        parser.add_argument("--teams", type=_non_negative, default=30)
        parser.add_argument("--days", type=_non_negative, default=90)
        parser.add_argument("--seed", type=int, default=1, help="the same seed, the same data")
        parser.add_argument("--reset", action="store_true", help="delete bench data first")

    def handle(self, *args: object, **options: Any) -> None:
        started = time.monotonic()
        for option in ("teams", "components", "days"):
            if options[option] < 1:
                raise CommandError(f"--{option} must be at least 1", returncode=2)
        for option, needs in (("pipelines", "changes"), ("alert_sources", "incidents")):
            if options[needs] and options[option] < 1:
                flag = option.replace("_", "-")
                raise CommandError(f"--{needs} needs at least one of --{flag}", returncode=2)
        rng = random.Random(options["seed"])  # noqa: S311 (benchmark data, not security)
        now = timezone.now()
        start = now - timedelta(days=options["days"])
        with transaction.atomic():  # all or nothing: a failed load leaves no half history
            if options["reset"]:
                deleted = _delete_bench_data()
            elif _bench_data_exists():
                raise CommandError(
                    "bench data already exists: run with --reset to replace it", returncode=2
                )
            else:
                deleted = {"changes": 0, "incidents": 0}
            teams = _create_teams(options["teams"])
            catalog, catalog_counts = _create_components(
                rng=rng, teams=teams, count=options["components"]
            )
            # With fewer components than teams, some teams own nothing: they get no pipelines.
            owners = [team for team in teams if team.id in catalog.targets_by_team]
            pipelines = _create_integrations(
                rng=rng, model=DeploymentPipeline, count=options["pipelines"], teams=owners
            )
            sources = _create_integrations(
                rng=rng, model=AlertSource, count=options["alert_sources"], teams=owners
            )
            counts = {
                "teams": len(teams),
                **catalog_counts,
                "pipelines": len(pipelines),
                "alert_sources": len(sources),
            }
            with _indexes_rebuilt_after(ChangeEvent, rows=options["changes"]):
                counts["changes"] = _insert_rows(
                    ChangeEvent,
                    CHANGE_COLUMNS,
                    _change_rows(
                        rng=rng,
                        catalog=catalog,
                        pipelines=pipelines,
                        count=options["changes"],
                        start=start,
                        now=now,
                    ),
                )
            counts |= _create_incidents(
                rng=rng,
                catalog=catalog,
                sources=sources,
                count=options["incidents"],
                start=start,
                now=now,
            )
        if connection.vendor == "postgresql":
            # Benchmarks must plan with real statistics, not wait for autovacuum to notice.
            with connection.cursor() as cursor:
                tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in BIG_MODELS)
                cursor.execute(f"ANALYZE {tables}")
        summary = {
            **counts,
            "deleted": deleted,
            "method": "copy" if connection.vendor == "postgresql" else "bulk_create",
            "seconds": round(time.monotonic() - started, 1),
        }
        self.stdout.write(json.dumps(summary))


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def _bench_integrations(model: type[Integration]) -> QuerySet[Any]:
    return model.objects.filter(name__startswith=PREFIX)


def _bench_data_exists() -> bool:
    # Changes and incidents are deleted before the rows they hang on, and a load is one
    # transaction, so bench changes never exist without bench pipelines: only small tables.
    return (
        Team.objects.filter(slug__startswith=PREFIX).exists()
        or Component.objects.filter(name__startswith=PREFIX).exists()
        or _bench_integrations(DeploymentPipeline).exists()
        or _bench_integrations(AlertSource).exists()
    )


def _delete_bench_data() -> dict[str, int]:
    """Delete bench rows only, children first. Other data (and its suspects) stays."""
    changes = ChangeEvent.objects.filter(
        pipeline__in=_bench_integrations(DeploymentPipeline), idempotency_key__startswith=PREFIX
    )
    incidents = Incident.objects.filter(
        alert_source__in=_bench_integrations(AlertSource), alias__startswith=PREFIX
    )
    SuspectChange.objects.filter(Q(change__in=changes) | Q(incident__in=incidents)).delete()
    TimelineEntry.objects.filter(incident__in=incidents).delete()
    IncidentComponent.objects.filter(incident__in=incidents).delete()
    Alert.objects.filter(incident__in=incidents).delete()
    deleted = {"changes": _delete_bench_changes()}
    deleted["incidents"] = incidents.delete()[1].get(Incident._meta.label, 0)
    _bench_integrations(DeploymentPipeline).delete()
    _bench_integrations(AlertSource).delete()
    Component.objects.filter(name__startswith=PREFIX).delete()
    Team.objects.filter(slug__startswith=PREFIX).delete()
    return deleted


def _delete_bench_changes() -> int:
    """One plain DELETE of the bench changes (their suspects must be gone already).

    The ORM's collector would load a million rows into memory first: it cannot fast-delete a
    model that others reference.
    """
    quote = connection.ops.quote_name
    changes, pipelines = (quote(m._meta.db_table) for m in (ChangeEvent, DeploymentPipeline))
    with connection.cursor() as cursor:
        sql = (
            f"DELETE FROM {changes} WHERE idempotency_key LIKE %s "  # noqa: S608 (model tables)
            f"AND pipeline_id IN (SELECT id FROM {pipelines} WHERE name LIKE %s)"
        )
        cursor.execute(sql, [f"{PREFIX}%", f"{PREFIX}%"])
        return cursor.rowcount


def _create_teams(count: int) -> list[Team]:
    teams = []
    for number in range(count):
        word = TEAM_WORDS[number % len(TEAM_WORDS)]
        if number >= len(TEAM_WORDS):
            word += f"-{number // len(TEAM_WORDS) + 1}"
        teams.append(Team(slug=f"{PREFIX}{word}", name=f"Bench {word.replace('-', ' ').title()}"))
    return Team.objects.bulk_create(teams)


def _create_components(
    *, rng: random.Random, teams: list[Team], count: int
) -> tuple[Catalog, dict[str, int]]:
    """Components dealt round-robin to the teams, with 0 to 2 aliases and a few dependencies."""
    components = []
    for number in range(count):
        team = teams[number % len(teams)]
        position = number // len(teams)
        name = f"{team.slug}-{SERVICES[position % len(SERVICES)]}"
        if position >= len(SERVICES):
            name += f"-{position // len(SERVICES) + 1}"
        components.append(Component(name=name, slug=name, owner_team=team))
    components = Component.objects.bulk_create(components)
    aliases = [
        ComponentAlias(component=component, name=component.name + suffix)
        for component in components
        for suffix in ALIAS_SUFFIXES[: rng.choice((0, 0, 1, 1, 2))]
    ]
    ComponentAlias.objects.bulk_create(aliases)
    forget_catalog()  # bulk_create sends no post_save
    edges = {
        (component.id, rng.choice(components).id)
        for component in components
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))
    }
    Through = Component.depends_on.through
    Through.objects.bulk_create(
        Through(from_component_id=source, to_component_id=target)
        for source, target in edges
        if source != target
    )
    names: dict[int, list[str]] = {component.id: [component.name] for component in components}
    for alias in aliases:
        names[alias.component_id].append(alias.name)
    catalog = Catalog()
    for component in components:
        target = (component.id, tuple(names[component.id]))
        catalog.all_targets.append(target)
        catalog.targets_by_team.setdefault(component.owner_team_id, []).append(target)
        catalog.owner_by_component[component.id] = component.owner_team_id
    dependencies = sum(1 for source, target in edges if source != target)
    return catalog, {
        "components": len(components),
        "aliases": len(aliases),
        "dependencies": dependencies,
    }


def _create_integrations(
    *, rng: random.Random, model: type[IntegrationT], count: int, teams: list[Team]
) -> list[IntegrationT]:
    """Pipelines or alert sources of several kinds; one in ten belongs to no team.

    Keys are random and thrown away: nobody can post to a bench integration by guessing.
    """
    kinds = PIPELINE_KINDS if model is DeploymentPipeline else SOURCE_KINDS
    integrations = []
    for number in range(count):
        team = None if number % 10 == 9 else teams[number % len(teams)]
        kind = kinds[number % len(kinds)] if model is AlertSource else rng.choice(kinds)
        key = generate_token(KEY_PREFIXES[model])
        owner = team.slug.removeprefix(PREFIX) if team else "shared"
        extra = {"default_severity": rng.choice(SEVERITIES)} if model is AlertSource else {}
        integrations.append(
            model(
                name=f"{PREFIX}{owner}-{kind.replace('_', '-')}-{number + 1}",
                kind=kind,
                team=team,
                key_hash=hash_token(key),
                key_prefix=visible_prefix(key),
                secret=new_secret(),
                **extra,
            )
        )
    return model.objects.bulk_create(integrations)


def _change_rows(
    *,
    rng: random.Random,
    catalog: Catalog,
    pipelines: list[DeploymentPipeline],
    count: int,
    start: datetime,
    now: datetime,
) -> Iterator[tuple[Any, ...]]:
    """Rows in CHANGE_COLUMNS order, oldest first (ids follow time, as with real ingest).

    JSON columns are JSON text, as COPY wants them. A team's pipelines change its components;
    team-less ones (think Terraform) change anything, as infrastructure.
    """
    # Local names: this loop runs a million times, and attribute lookups show in the profile.
    choice, random_fraction, getrandbits = rng.choice, rng.random, rng.getrandbits
    weighted = [  # some pipelines are busier than others
        (pipeline.id, pipeline.team_id, catalog.targets(pipeline.team_id))
        for number, pipeline in enumerate(pipelines)
        for _ in range(1 + number % 4)
    ]
    releases = dict.fromkeys(catalog.owner_by_component, 0)
    step = (now - start - timedelta(minutes=1)).total_seconds() / max(count, 1)
    for number in range(count):
        pipeline_id, team_id, targets = choice(weighted)
        component_id, names = choice(targets)
        name = names[0] if random_fraction() < 0.85 else choice(names)
        kind = "infrastructure" if team_id is None else choice(CHANGE_KINDS)
        release = releases[component_id]
        if kind == "deployment":
            releases[component_id] = release = release + 1
        elif kind == "rollback":
            release = max(release - 1, 0)
        version = f"v{release // 100 + 1}.{release // 10 % 10}.{release % 10}"
        environment = choice(ENVIRONMENTS)
        roll = random_fraction()
        outcome = "failed" if roll < 0.08 else "started" if roll < 0.1 else "succeeded"
        occurred_at = start + timedelta(seconds=(number + random_fraction()) * step)
        received_at = occurred_at + timedelta(seconds=1 + 30 * random_fraction())
        # A rollout of one to ten minutes; a running one has only started.
        started_at = occurred_at - timedelta(seconds=60 + 540 * random_fraction())
        if outcome == "started":
            started_at = occurred_at
        links = (
            f'[{{"href": "https://ci.example.com/{pipeline_id}/runs/{number}", "text": "CI run"}}]'
            if random_fraction() < 0.4
            else "[]"
        )
        yield (
            occurred_at,
            started_at,
            None if outcome == "started" else occurred_at,
            "",
            "[]",
            received_at,
            name,
            component_id,
            environment,
            kind,
            outcome,
            f"{SUMMARY_VERBS.get(kind, 'Change')} {name} {version} to {environment}",
            "",
            choice(PEOPLE),
            version,
            f"{getrandbits(160):040x}",
            links,
            choice(METADATA),
            pipeline_id,
            team_id,  # a pipeline's change counts for its team (changes.ownership)
            f"{PREFIX}{number}",
            received_at,
        )


@dataclass
class IncidentStory:
    """An unsaved incident with the components it names and its timeline rows (no ids yet)."""

    incident: Incident
    components: list[tuple[str, int]]
    timeline: list[tuple[datetime, str, str, str]]


def _create_incidents(
    *,
    rng: random.Random,
    catalog: Catalog,
    sources: list[AlertSource],
    count: int,
    start: datetime,
    now: datetime,
) -> dict[str, int]:
    """Incidents in batches: bulk_create gives the ids their components and timeline need."""
    totals = {"incidents": 0, "incident_components": 0, "timeline_entries": 0}
    numbers = iter(range(count))
    while batch := list(islice(numbers, BATCH_SIZE)):
        stories = [
            _incident_story(
                rng=rng, catalog=catalog, source=rng.choice(sources), number=n, start=start, now=now
            )
            for n in batch
        ]
        Incident.objects.bulk_create([story.incident for story in stories])
        totals["incidents"] += len(stories)
        totals["incident_components"] += _insert_rows(
            IncidentComponent,
            INCIDENT_COMPONENT_COLUMNS,
            (
                (story.incident.id, *component)
                for story in stories
                for component in story.components
            ),
        )
        totals["timeline_entries"] += _insert_rows(
            TimelineEntry,
            TIMELINE_COLUMNS,
            ((story.incident.id, *entry) for story in stories for entry in story.timeline),
        )
        # Each incident's one alert, as the services make it (alias lookups and resolves).
        _insert_rows(
            Alert,
            ALERT_COLUMNS,
            (_first_alert(story.incident) for story in stories),
        )
    return totals


def _first_alert(incident: Incident) -> tuple[Any, ...]:
    firing = incident.status != Incident.Status.RESOLVED
    return (
        incident.id,
        incident.alert_source_id,
        incident.alias,
        incident.title,
        incident.severity,
        Alert.Status.TRIGGERED if firing else Alert.Status.RESOLVED,
        incident.started_at,
        None if firing else incident.resolved_at,
    )


def _incident_story(
    *,
    rng: random.Random,
    catalog: Catalog,
    source: AlertSource,
    number: int,
    start: datetime,
    now: datetime,
) -> IncidentStory:
    """About 1% still open (recent), the rest resolved by their source or a quiet period."""
    targets = catalog.targets(source.team_id)
    picked = rng.sample(targets, k=min(len(targets), 1 if rng.random() < 0.7 else 2))
    components = [(rng.choice(names), component_id) for component_id, names in picked]
    roll = rng.random()
    status = "triggered" if roll < 0.006 else "acknowledged" if roll < 0.01 else "resolved"
    if status == "resolved":
        latest = max((now - start).total_seconds() - 3 * 3600, 60)
        started_at = start + timedelta(seconds=latest * rng.random())
    else:
        started_at = now - timedelta(minutes=rng.uniform(5, 6 * 60))
    repeats = rng.choice((0, 0, 1, 1, 2, 3, 5, 8))
    last_alert_at = started_at + timedelta(minutes=5 * repeats)
    title = f"{rng.choice(ALERTS)} on {components[0][0]}"
    incident = Incident(
        title=title,
        severity=source.default_severity,
        status=status,
        alias=f"{PREFIX}{number}",
        alert_source=source,
        team_id=catalog.owner_by_component[picked[0][0]] or source.team_id,
        environment="production" if rng.random() < 0.9 else "staging",
        tags=["bench", source.kind],
        started_at=started_at,
        last_alert_at=last_alert_at,
        repeat_count=repeats,
        correlated_at=started_at + timedelta(seconds=2),
    )
    timeline = [(started_at, "alert", source.name, json.dumps({"title": title}))]
    timeline += [
        (started_at + timedelta(minutes=5 * repeat), "repeat", source.name, "{}")
        for repeat in range(1, min(repeats, 2) + 1)
    ]
    if status == "acknowledged" or (status == "resolved" and rng.random() < 0.8):
        incident.acknowledged_at = started_at + timedelta(minutes=rng.uniform(1, 15))
        timeline.append((incident.acknowledged_at, "acknowledged", rng.choice(PEOPLE), "{}"))
    if status == "resolved":
        incident.resolved_at = last_alert_at + timedelta(minutes=rng.uniform(5, 120))
        incident.resolved_by_rule = rng.choice(("source recovered",) * 4 + ("quiet period",))
        if rng.random() < 0.3:
            note = json.dumps({"text": "Rolled back the last deploy; recovering."})
            timeline.append((incident.resolved_at - timedelta(minutes=3), "note", "sam", note))
        timeline.append((incident.resolved_at, "resolved", incident.resolved_by_rule, "{}"))
    return IncidentStory(incident=incident, components=components, timeline=timeline)


def _insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Insert rows given in `columns` order (JSON columns as JSON text); return how many.

    PostgreSQL gets one COPY, streamed from the generator; other databases bulk_create in
    batches of BATCH_SIZE, so memory stays flat either way.
    """
    fields = [model._meta.get_field(column) for column in columns]
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        sql = (
            f"COPY {quote(model._meta.db_table)} "
            f"({', '.join(quote(field.column) for field in fields)}) FROM STDIN"
        )
        count = 0
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for count, row in enumerate(rows, start=1):  # noqa: B007 (count is the result)
                copy.write_row(row)
        return count
    is_json = [isinstance(field, models.JSONField) for field in fields]
    attnames = [field.attname for field in fields]
    count = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_SIZE)):
        model.objects.bulk_create(
            model(
                **{
                    name: json.loads(value) if decode else value
                    for name, decode, value in zip(attnames, is_json, row, strict=True)
                }
            )
            for row in batch
        )
        count += len(batch)
    return count


@contextmanager
def _indexes_rebuilt_after(model: type[models.Model], *, rows: int) -> Iterator[None]:
    """Drop the table's plain indexes and foreign keys for a big COPY and make them again
    afterwards.

    Keeping eight b-trees up to date row by row is most of a million-row COPY; one sorted
    build each at the end takes a third of that. A foreign key checks each row on its own at
    commit (ten million rows, three keys each: three minutes); added back, it checks the whole
    table in one join (seconds). PostgreSQL only, and only when the load is at least as big as
    the table: rebuilding over a bigger table would cost more than it saves. Unique indexes
    stay, so the load is still checked against them. Runs inside the caller's transaction: if
    the load fails, the rollback brings everything back. Until commit, DROP INDEX's lock keeps
    other sessions from reading the table.
    """
    table = model._meta.db_table
    quoted = connection.ops.quote_name(table)
    indexes: list[tuple[str, str]] = []
    foreign_keys: list[tuple[str, str]] = []
    if connection.vendor == "postgresql" and rows >= REBUILD_INDEXES_FROM:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
            (estimated_rows,) = cursor.fetchone()
            if rows >= estimated_rows:
                cursor.execute(
                    "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                    "WHERE indrelid = %s::regclass AND NOT indisunique AND NOT indisexclusion",
                    [table],
                )
                indexes = cursor.fetchall()
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'f'",
                    [table],
                )
                foreign_keys = cursor.fetchall()
            if indexes:
                # Deleting bench pipelines and components left deferred checks that look for
                # changes still pointing at them: run them while the indexes can answer.
                connection.check_constraints()
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {name}")
            for name, _ in foreign_keys:
                cursor.execute(
                    f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}"
                )
    yield
    if indexes or foreign_keys:
        # Neither statement runs while the other tables' deferred checks are pending.
        connection.check_constraints()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # sorts in memory
            for name, definition in foreign_keys:
                cursor.execute(
                    f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} "
                    f"{definition}"
                )
            for _, definition in indexes:
                cursor.execute(definition)
