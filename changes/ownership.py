"""The team a change counts for, stored on the change (`ChangeEvent.team`), and its rewrite
when ownership changes.

The rule: a change counts for its pipeline's team; a change without a pipeline (a manual one,
or one whose pipeline was deleted) for the owner team of its catalog component. Stored at
ingest, so that filtering by team is one range of `change_team_time_idx` instead of an OR
across two joins; rewritten after a pipeline changes team, a component changes owner, or a
name comes to mean another component, so that history follows the catalog.
"""

from django.db import connection, transaction
from django.db.models import Max, Min

from changes.models import ChangeEvent
from pipelines.models import DeploymentPipeline
from teams.models import Component

# Ids per statement of a rewrite. Each range commits on its own: rewriting a long history never
# holds its row locks for long, and ingest, which inserts above the ranges, never waits on it.
REWRITE_CHUNK = 10_000


def change_team_id(
    *, pipeline: DeploymentPipeline | None, component_id: int | None, fresh: bool = False
) -> int | None:
    """The id of the team a change of `pipeline` (None: a manual change) on the catalog
    component `component_id` counts for. No query for a pipeline's change, unless `fresh`: its
    team is then read from the database (a cached pipeline may name a team deleted since). One
    query for a manual change with a component."""
    if pipeline is not None:
        if not fresh:
            return pipeline.team_id
        return (
            DeploymentPipeline.objects.filter(pk=pipeline.pk)
            .values_list("team_id", flat=True)
            .first()
        )
    if component_id is None:
        return None
    return Component.objects.filter(pk=component_id).values_list("owner_team_id", flat=True).first()


def rewrite_change_teams(*, pipeline_id: int | None = None, component_id: int | None = None) -> int:
    """Set `team` to what the rule says now: of a pipeline's changes (its team changed), of the
    manual changes of a component (its owner changed), or, with neither, of every change
    (a pipeline was deleted: its changes are manual ones now).

    Set-based UPDATEs over ranges of REWRITE_CHUNK ids, a transaction each, up to the newest
    change (ranges are added while changes arrive during the rewrite). Each statement reads
    the team it writes, so a rewrite that overlaps a later one never leaves an older team
    behind. Idempotent: rows already right are not written. Returns how many rows changed.
    """
    statements = _rule_statements(pipeline_id=pipeline_id, component_id=component_id)
    bounds = ChangeEvent.objects.aggregate(low=Min("id"), high=Max("id"))
    low, high = bounds["low"], bounds["high"]
    updated = 0
    while low is not None and low <= high:
        with transaction.atomic(), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, [low, low + REWRITE_CHUNK, *params])
                updated += cursor.rowcount
        low += REWRITE_CHUNK
        if low > high:  # changes recorded meanwhile: their ranges too
            high = ChangeEvent.objects.aggregate(high=Max("id"))["high"]
    return updated


def _rule_statements(
    *, pipeline_id: int | None, component_id: int | None
) -> list[tuple[str, list[int]]]:
    """The rule as UPDATEs of one id range (its bounds the first two parameters), narrowed to
    one pipeline's changes or one component's manual changes when given."""
    quote = connection.ops.quote_name
    changes, pipelines, components = (
        quote(model._meta.db_table) for model in (ChangeEvent, DeploymentPipeline, Component)
    )
    in_range = f"{changes}.id >= %s AND {changes}.id < %s"

    def differs(source: str) -> str:
        # Null-safe "is distinct from" in SQL both databases speak (ids start at 1).
        return f"COALESCE({changes}.team_id, 0) <> COALESCE({source}, 0)"

    by_pipeline = (
        f"UPDATE {changes} SET team_id = {pipelines}.team_id FROM {pipelines} "  # noqa: S608 (model tables)
        f"WHERE {in_range} AND {changes}.pipeline_id = {pipelines}.id "
        f"AND {differs(f'{pipelines}.team_id')}"
    )
    by_owner = (
        f"UPDATE {changes} SET team_id = {components}.owner_team_id FROM {components} "  # noqa: S608 (model tables)
        f"WHERE {in_range} AND {changes}.pipeline_id IS NULL "
        f"AND {changes}.resolved_component_id = {components}.id "
        f"AND {differs(f'{components}.owner_team_id')}"
    )
    if pipeline_id is not None:
        return [(f"{by_pipeline} AND {changes}.pipeline_id = %s", [pipeline_id])]
    if component_id is not None:
        return [(f"{by_owner} AND {changes}.resolved_component_id = %s", [component_id])]
    uncatalogued = (
        f"UPDATE {changes} SET team_id = NULL "  # noqa: S608 (model tables)
        f"WHERE {in_range} AND {changes}.pipeline_id IS NULL "
        f"AND {changes}.resolved_component_id IS NULL AND {changes}.team_id IS NOT NULL"
    )
    return [(by_pipeline, []), (by_owner, []), (uncatalogued, [])]


def refresh_manual_change_teams(*, names: dict[str, Component | None]) -> int:
    """After the names' changes were pointed at the components they mean now (`names`: name
    to component, None for a name the catalog does not know), let their manual changes count
    for those components' owners. One UPDATE per name; returns how many rows changed."""
    updated = 0
    for name, component in names.items():
        owner_id = component.owner_team_id if component is not None else None
        updated += (
            ChangeEvent.objects.filter(component=name, pipeline=None)
            .exclude(team_id=owner_id)
            .update(team_id=owner_id)
        )
    return updated
