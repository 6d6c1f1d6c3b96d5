"""How producers' component names become catalog components."""

import re
import uuid
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from redis.exceptions import RedisError

from common.cache import cached_value, forget
from teams.models import Component, ComponentAlias

_WHITESPACE = re.compile(r"\s+")
# Names the catalog knows, per web process, until another process changes the catalog: every
# change to a component or alias sets a new version in the cache (see forget_catalog).
CATALOG_VERSION = "component-catalog:version"


@dataclass
class _Catalog:
    version: str = ""
    ids: dict[str, int] = field(default_factory=dict)


_catalog = _Catalog()


def normalise_component_name(raw: str) -> str:
    """`  Payments-Service ` and `payments-service` are the same component."""
    return _WHITESPACE.sub(" ", raw).strip().lower()


def resolve_component_id(name: str) -> int | None:
    """The id of the catalog component a (normalised) name means, by its name or an alias.

    Without a query while the catalog is unchanged (ingest's hot path); inside a transaction,
    which may see catalog rows that a rollback takes back, by a query.
    """
    if not name:
        return None
    if connection.in_atomic_block:
        matches = Component.objects.filter(Q(name=name) | Q(aliases__name=name))
        return matches.values_list("id", flat=True).first()
    return _known_names().get(name)


def _known_names() -> dict[str, int]:
    global _catalog
    try:
        version = cached_value(CATALOG_VERSION)  # ingest read it ahead with its key
        if version is None:
            cache.add(CATALOG_VERSION, uuid.uuid4().hex, timeout=None)
            version = cache.get(CATALOG_VERSION)
    except (RedisError, OSError):
        version = None  # no way to tell whether it changed: read it afresh
    if version is None or version != _catalog.version:
        ids = dict(Component.objects.values_list("name", "id"))
        ids.update(ComponentAlias.objects.values_list("name", "component_id"))
        _catalog = _Catalog(version or "", ids)
    return _catalog.ids


def forget_catalog() -> None:
    """Every process reads the catalog afresh on its next lookup (a component or alias changed)."""
    forget(CATALOG_VERSION)


def resolve_components(names: list[str]) -> dict[str, Component]:
    """Resolve many names in one query: {name: component} for the names the catalog knows."""
    wanted = {name for name in names if name}
    if not wanted:
        return {}
    resolved: dict[str, Component] = {}
    matches = (
        Component.objects.filter(Q(name__in=wanted) | Q(aliases__name__in=wanted))
        .prefetch_related("aliases")
        .distinct()
    )
    for component in matches:
        for name in {component.name, *(alias.name for alias in component.aliases.all())}:
            if name in wanted:
                resolved[name] = component
    return resolved
