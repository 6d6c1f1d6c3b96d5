"""Writes for change events."""

from django.db import transaction

from changes.models import ChangeEvent
from teams.components import resolve_components


@transaction.atomic
def resolve_change_components(*, names: list[str]) -> int:
    """Point the changes recorded under these component names at the catalog entry they mean now.

    Run after aliases change. Idempotent; returns how many changes were updated.
    """
    resolved = resolve_components(names)
    updated = 0
    for name in set(names):  # one UPDATE per renamed name: a handful per config change
        component = resolved.get(name)
        updated += (
            ChangeEvent.objects.filter(component=name)
            .exclude(resolved_component=component)
            .update(resolved_component=component)
        )
    return updated
