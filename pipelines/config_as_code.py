"""Configuration as code: one YAML file declares teams, components, pipelines and alert sources.

Like Grafana's provisioning files: entries are created or updated by name, fields an entry
leaves out are left as they are, anything the file does not list is left alone, and the whole
file is validated before anything is written.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

import yaml
from django.db import transaction
from rest_framework import serializers

from common.config_files import ConfigInvalid, validate_section
from common.tokens import hash_token
from pipelines.endpoints import ingest_url
from pipelines.kinds import ALERT_SOURCE_KINDS, PIPELINE_KINDS, KindInfo, auth_mode_problem
from pipelines.models import (
    TIMESTAMP_TOLERANCE_VALIDATORS,
    AlertSource,
    AuthMode,
    DeploymentPipeline,
    Integration,
    Severity,
)
from pipelines.services import create_integration, rotate_key, update_integration
from teams.config_as_code import apply_catalog, validate_catalog
from teams.models import Team

SECTIONS = ("teams", "components", "pipelines", "alert_sources")


def _names() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=200), required=False)


class PipelineEntry(serializers.Serializer):
    KINDS: ClassVar[Mapping[str, KindInfo]] = PIPELINE_KINDS
    MODEL: ClassVar[type[Integration]] = DeploymentPipeline

    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=DeploymentPipeline.Kind.choices)
    # Left out: the kind's default (a signature where its producer signs), or, on an update,
    # as it is (pipelines.services).
    auth_mode = serializers.ChoiceField(
        choices=AuthMode.choices,
        required=False,
        help_text="signature: every request must be signed with the secret; key: the key alone",
    )
    team = serializers.SlugField(max_length=50, required=False, allow_null=True)
    secret = serializers.CharField(max_length=200, required=False)
    key = serializers.CharField(min_length=8, max_length=200, required=False)
    enabled = serializers.BooleanField(required=False)
    environments = _names()
    branches = _names()
    event_types = _names()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Branches only for kinds whose events name one (pipelines.kinds), as in the form: a
        branch filter given for another kind is refused, and one left from an earlier kind is
        cleared when the kind is set. An authentication mode only where the kind allows it."""
        kind = attrs.get("kind") or getattr(self.instance, "kind", "")
        problem = auth_mode_problem(self.MODEL, kind, attrs.get("auth_mode") or "")
        if "auth_mode" in attrs and problem:
            raise serializers.ValidationError({"auth_mode": [problem]})
        info = self.KINDS.get(kind)
        if info is not None and not info.has_branches:
            if attrs.get("branches"):
                label = self.fields["kind"].choices[kind]
                raise serializers.ValidationError(
                    {"branches": [f"{label} events name no branch: leave branches out."]}
                )
            if "kind" in attrs:
                attrs["branches"] = []
        return attrs


class AlertSourceEntry(PipelineEntry):
    KINDS = ALERT_SOURCE_KINDS
    MODEL = AlertSource

    kind = serializers.ChoiceField(choices=AlertSource.Kind.choices)
    default_severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    default_components = _names()
    insufficient_data = serializers.ChoiceField(
        choices=AlertSource.InsufficientData.choices, required=False
    )
    window_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False)
    skew_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, required=False)
    quiet_period_minutes = serializers.IntegerField(
        min_value=1, max_value=7 * 24 * 60, required=False, allow_null=True
    )
    reopen_window_minutes = serializers.IntegerField(
        min_value=0, max_value=7 * 24 * 60, required=False
    )
    # Empty (null): the kind's default, 10 minutes, 0 (off) for the incidents API.
    group_window_minutes = serializers.IntegerField(
        min_value=0, max_value=24 * 60, required=False, allow_null=True
    )
    # The model's validators: one rule, and one message, for the form, the API and the file.
    timestamp_tolerance_seconds = serializers.IntegerField(
        required=False, validators=list(TIMESTAMP_TOLERANCE_VALIDATORS)
    )


def parse_config(text: str) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigInvalid([f"not valid YAML: {error}"]) from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ConfigInvalid(
            ["the file must be a mapping with teams, components, pipelines, alert_sources"]
        )
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise ConfigInvalid([f"{section}: unknown section" for section in unknown])
    return document


@transaction.atomic
def apply_config(document: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Validate the whole document, then create or update what it lists, in one transaction.

    Returns {"pipelines": {name: {id, kind, url, key?, secret?}}, "alert_sources": {...}}; the key
    and secret appear only where they were created or given in the file.
    Raises ConfigInvalid, naming each bad entry and field, before writing anything.
    """
    errors: list[str] = []
    catalog = validate_catalog(document, errors)
    integrations = {
        DeploymentPipeline: validate_section(
            document, "pipelines", PipelineEntry, key="name", errors=errors
        ),
        AlertSource: validate_section(
            document, "alert_sources", AlertSourceEntry, key="name", errors=errors
        ),
    }
    known_teams = {team["slug"] for team in catalog["teams"]}
    known_teams |= set(Team.objects.values_list("slug", flat=True))
    for model, entries in integrations.items():
        keys_in_file: set[str] = set()
        for entry in entries:
            if entry.get("team") and entry["team"] not in known_teams:
                errors.append(f"{entry['_label']}.team: unknown team {entry['team']!r}")
            if "key" in entry:
                key_hash = hash_token(entry["key"])
                taken = model.objects.filter(key_hash=key_hash).exclude(name=entry["name"])
                if key_hash in keys_in_file or taken.exists():
                    errors.append(f"{entry['_label']}.key: already the key of another integration")
                keys_in_file.add(key_hash)
    if errors:
        raise ConfigInvalid(errors)

    apply_catalog(catalog)
    teams = {team.slug: team for team in Team.objects.all()}
    return {
        "pipelines": _apply_integrations(
            DeploymentPipeline, integrations[DeploymentPipeline], teams
        ),
        "alert_sources": _apply_integrations(AlertSource, integrations[AlertSource], teams),
    }


def _apply_integrations(
    model: type[Integration], entries: list[dict], teams: dict[str, Team]
) -> dict[str, dict[str, Any]]:
    result = {}
    for entry in entries:
        fields = {name: value for name, value in entry.items() if name not in ("_label", "name")}
        key = fields.pop("key", None)
        secret = fields.pop("secret", None)
        if "team" in fields:
            fields["team"] = teams.get(fields["team"]) if fields["team"] else None
        integration = model.objects.filter(name=entry["name"]).first()
        created = integration is None
        if integration is None:
            integration, key = create_integration(
                model=model, name=entry["name"], secret=secret, key=key, by="apply_config", **fields
            )
            secret = integration.secret
        else:
            update_integration(by="apply_config", integration=integration, **fields)
            if secret is not None and secret != integration.secret:
                integration.secret = secret
                integration.save(update_fields=("secret", "updated_at"))
            if key is not None and hash_token(key) != integration.key_hash:
                rotate_key(integration=integration, key=key, by="apply_config")
        shown: dict[str, Any] = {"id": integration.pk, "kind": integration.kind}
        if created or key is not None:
            shown["key"] = key
        if created or secret is not None:
            shown["secret"] = secret
        shown["url"] = ingest_url(integration, key)
        result[integration.name] = shown
    return result
