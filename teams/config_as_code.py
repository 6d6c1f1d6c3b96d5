"""The `teams` and `components` sections of a configuration file (see apply_config)."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from common.config_files import validate_section
from teams.components import normalise_component_name
from teams.models import Component, ComponentAlias, Team
from teams.services import unique_component_slug


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

    known_teams = {team["slug"] for team in teams} | set(
        Team.objects.values_list("slug", flat=True)
    )
    listed = {component["name"] for component in components}
    known_components = listed | set(Component.objects.values_list("name", flat=True))
    # Who owns each alias after this file is applied: the file's word wins for listed components.
    alias_owner = {
        alias: owner
        for alias, owner in ComponentAlias.objects.values_list("name", "component__name")
        if owner not in listed
    }
    for component in components:
        label = component["_label"]
        if component.get("team") and component["team"] not in known_teams:
            errors.append(f"{label}.team: unknown team {component['team']!r}")
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


def apply_catalog(catalog: dict[str, list[dict]]) -> set[str]:
    """Create or update the listed teams and components. Returns the names whose meaning changed.

    Runs inside the caller's transaction; the caller has validated `catalog`.
    """
    for entry in catalog["teams"]:
        team, created = Team.objects.get_or_create(
            slug=entry["slug"], defaults={"name": entry.get("name", entry["slug"])}
        )
        if not created and "name" in entry and team.name != entry["name"]:
            team.name = entry["name"]
            team.save(update_fields=["name"])

    teams = {team.slug: team for team in Team.objects.all()}
    components: dict[str, Component] = {}
    renamed: set[str] = set()
    for entry in catalog["components"]:
        component, created = Component.objects.get_or_create(
            name=entry["name"], defaults={"slug": unique_component_slug(entry["name"])}
        )
        if created:
            renamed.add(component.name)
        if "team" in entry:
            owner = teams.get(entry["team"]) if entry["team"] else None
            if component.owner_team_id != (owner.pk if owner else None):
                component.owner_team = owner
                component.save(update_fields=["owner_team"])
        if "aliases" in entry:
            current = set(component.aliases.values_list("name", flat=True))
            wanted = set(entry["aliases"])
            if current != wanted:
                ComponentAlias.objects.filter(
                    component=component, name__in=current - wanted
                ).delete()
                # An alias moving between two listed components: take it from the other first.
                ComponentAlias.objects.filter(name__in=wanted - current).delete()
                ComponentAlias.objects.bulk_create(
                    ComponentAlias(component=component, name=alias) for alias in wanted - current
                )
                renamed |= current ^ wanted
        components[component.name] = component

    for entry in catalog["components"]:
        if "depends_on" in entry:
            dependencies = Component.objects.filter(name__in=entry["depends_on"])
            components[entry["name"]].depends_on.set(dependencies)
    return renamed
