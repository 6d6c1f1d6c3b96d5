"""How producers' component names become catalog components."""

import re

from django.db.models import Q

from teams.models import Component

_WHITESPACE = re.compile(r"\s+")


def normalise_component_name(raw: str) -> str:
    """`  Payments-Service ` and `payments-service` are the same component."""
    return _WHITESPACE.sub(" ", raw).strip().lower()


def resolve_component(name: str) -> Component | None:
    """The catalog component a (normalised) name means, by its name or one of its aliases."""
    if not name:
        return None
    return Component.objects.filter(Q(name=name) | Q(aliases__name=name)).first()


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
