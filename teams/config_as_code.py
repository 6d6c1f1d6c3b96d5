"""The `teams` and `components` sections of a configuration file (see apply_config)."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from common.config_files import validate_section
from teams import services
from teams.components import normalise_component_name
from teams.models import Component, ComponentAlias, Team

BY = "apply_config"


class TeamEntry(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=100, required=False)


class ComponentEntry(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    team = serializers.SlugField(max_length=50, required=False, allow_null=True)
    aliases = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    depends_on = serializers.ListField(child=serializers.CharField(max_length=200), required=False)

    def validate_name(self, value: str) -> str:
        return normalise_component_name(value)

    def validate_aliases(self, value: list[str]) -> list[str]:
        return sorted({normalise_component_name(alias) for alias in value} - {""})

    def validate_depends_on(self, value: list[str]) -> list[str]:
        return sorted({normalise_component_name(name) for name in value} - {""})


def validate_catalog(document: Mapping[str, Any], errors: list[str]) -> dict[str, list[dict]]:
    """Check the teams and components sections, including what they refer to."""
    teams = validate_section(document, "teams", TeamEntry, key="slug", errors=errors)
    components = validate_section(document, "components", ComponentEntry, key="name", errors=errors)

    teams_by_slug = {team.slug: team for team in Team.objects.all()}
    known_teams = {team["slug"] for team in teams} | set(teams_by_slug)
    listed = {component["name"] for component in components}
    known_components = listed | set(Component.objects.values_list("name", flat=True))
    # Who owns each alias after this file is applied: the file's word wins for listed components.
    alias_owner = {
        alias: owner
        for alias, owner in ComponentAlias.objects.values_list("name", "component__name")
        if owner not in listed
    }
    existing = {
        component.name: component
        for component in Component.objects.filter(name__in=listed)
        .select_related("owner_team")
        .prefetch_related("aliases")
    }
    for component in components:
        label = component["_label"]
        if component.get("team") and component["team"] not in known_teams:
            errors.append(f"{label}.team: unknown team {component['team']!r}")
        _check_claim(component, existing.get(component["name"]), teams_by_slug, errors)
        for dependency in component.get("depends_on", []):
            if dependency not in known_components:
                errors.append(f"{label}.depends_on: unknown component {dependency!r}")
            elif dependency == component["name"]:
                errors.append(f"{label}.depends_on: a component cannot depend on itself")
        for alias in component.get("aliases", []):
            owner = alias_owner.setdefault(alias, component["name"])
            if alias in known_components and alias != component["name"]:
                errors.append(f"{label}.aliases: {alias!r} is the name of another component")
            elif owner != component["name"]:
                errors.append(f"{label}.aliases: {alias!r} is already an alias of {owner!r}")
    return {"teams": teams, "components": components}


def _check_claim(
    entry: dict[str, Any],
    component: Component | None,
    teams: dict[str, Team],
    errors: list[str],
) -> None:
    """The settings' rule on names other teams' pipelines report, for what applying this entry
    would save. A file is no one's: it claims no such name (staff claim it in Settings or the
    API, and the file re-applies unchanged after that)."""
    owner = component.owner_team if component else None
    aliases = [alias.name for alias in component.aliases.all()] if component else []
    if "team" in entry:
        owner = teams.get(entry["team"]) if entry["team"] else None
        if entry["team"] and owner is None:
            component = None  # moving to a team this file creates: every name is claimed anew
    aliases = entry.get("aliases", aliases)
    try:
        services.check_component_claim(
            by=BY, component=component, name=entry["name"], aliases=aliases, owner_team=owner
        )
    except services.SettingInvalid as refused:
        for field, messages in refused.fields.items():
            errors.extend(f"{entry['_label']}.{field}: {message}" for message in messages)


def apply_catalog(catalog: dict[str, list[dict]]) -> None:
    """Create or update the listed teams and components through the settings services (so the
    audit log sees them), leaving out what an entry does not list.

    Runs inside the caller's transaction; the caller has validated `catalog`.
    """
    for entry in catalog["teams"]:
        team = Team.objects.filter(slug=entry["slug"]).first()
        if team is None:
            services.create_team(by=BY, slug=entry["slug"], name=entry.get("name", entry["slug"]))
        elif "name" in entry:
            services.update_team(by=BY, team=team, name=entry["name"])

    teams = {team.slug: team for team in Team.objects.all()}
    listed = [entry["name"] for entry in catalog["components"]]
    # An alias moving between two listed components: free it first, whatever the file's order.
    # One that stays where it is is left alone: saved again, it would count as newly claimed.
    listed_as = {
        alias: entry["name"]
        for entry in catalog["components"]
        for alias in entry.get("aliases", [])
    }
    aliases = ComponentAlias.objects.filter(name__in=listed_as, component__name__in=listed).exclude(
        component__name__in=[e["name"] for e in catalog["components"] if "aliases" not in e]
    )
    moving = [
        pk
        for pk, alias, owner in aliases.values_list("pk", "name", "component__name")
        if owner != listed_as[alias]
    ]
    if moving:
        ComponentAlias.objects.filter(pk__in=moving).delete()
    # Two passes: a component may depend on one listed after it.
    for depends_pass in (False, True):
        existing = {c.name: c for c in Component.objects.filter(name__in=listed)}
        for entry in catalog["components"]:
            if depends_pass and "depends_on" not in entry:
                continue
            component = existing.get(entry["name"])
            owner = component.owner_team if component else None
            if "team" in entry:
                owner = teams.get(entry["team"]) if entry["team"] else None
            aliases = entry.get("aliases")
            if aliases is None:
                aliases = (
                    list(component.aliases.values_list("name", flat=True)) if component else []
                )
            depends_on = list(component.depends_on.all()) if component else []
            if depends_pass:
                depends_on = list(Component.objects.filter(name__in=entry["depends_on"]))
            services.save_component(
                by=BY,
                component=component,
                name=entry["name"],
                owner_team=owner,
                aliases=aliases or [],
                depends_on=depends_on,
            )
