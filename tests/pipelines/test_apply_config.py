import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from changes.models import ChangeEvent
from common.tokens import hash_token
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import Component, ComponentAlias, Team
from tests.changes.factories import ChangeEventFactory
from tests.teams.factories import ComponentFactory, TeamFactory

pytestmark = pytest.mark.django_db

CONFIG = """
teams:
  - slug: payments
    name: Payments
  - slug: platform
    name: Platform
components:
  - name: postgres-main
    team: platform
  - name: Payments-Service
    team: payments
    aliases: [payments-prod, payments]
    depends_on: [postgres-main]
pipelines:
  - name: payments-github
    kind: github
    team: payments
    secret: test-secret
    branches: [main]
    event_types: [deployment_status, release]
  - name: terraform
    kind: generic
    key: kept-in-vault-0123456789
alert_sources:
  - name: cloudwatch-prod
    kind: cloudwatch_sns
    team: payments
    default_severity: critical
    default_components: [payments-service]
    insufficient_data: raise
    window_minutes: 90
    skew_minutes: 5
    quiet_period_minutes: 30
    reopen_window_minutes: 10
    timestamp_tolerance_seconds: 120
"""


def apply(tmp_path: Path, text: str, capsys) -> dict:
    path = tmp_path / "whatchanged.yaml"
    path.write_text(text, encoding="utf-8")
    call_command("apply_config", str(path))
    return json.loads(capsys.readouterr().out)


def fails(tmp_path: Path, text: str, capsys) -> list[str]:
    path = tmp_path / "whatchanged.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as raised:
        call_command("apply_config", str(path))
    assert raised.value.returncode == 2
    return capsys.readouterr().err.splitlines()


def test_creates_everything_listed(tmp_path, capsys):
    output = apply(tmp_path, CONFIG, capsys)

    assert set(Team.objects.values_list("slug", flat=True)) == {"payments", "platform"}
    payments = Component.objects.get(name="payments-service")
    assert payments.owner_team.slug == "payments"
    assert set(payments.aliases.values_list("name", flat=True)) == {"payments-prod", "payments"}
    assert list(payments.depends_on.values_list("name", flat=True)) == ["postgres-main"]

    github = DeploymentPipeline.objects.get(name="payments-github")
    assert (github.kind, github.secret, github.branches) == ("github", "test-secret", ["main"])
    assert github.event_types == ["deployment_status", "release"]
    shown = output["pipelines"]["payments-github"]
    assert set(shown) == {"id", "kind", "key", "secret", "url"}
    assert github.key_hash == hash_token(shown["key"]) and shown["key"] in shown["url"]

    terraform = DeploymentPipeline.objects.get(name="terraform")
    assert terraform.key_hash == hash_token("kept-in-vault-0123456789")

    source = AlertSource.objects.get(name="cloudwatch-prod")
    assert (source.default_severity, source.default_components) == (
        "critical",
        ["payments-service"],
    )
    assert (source.insufficient_data, source.window_minutes, source.skew_minutes) == (
        "raise",
        90,
        5,
    )
    assert (source.quiet_period_minutes, source.reopen_window_minutes) == (30, 10)
    assert source.timestamp_tolerance_seconds == 120
    assert output["alert_sources"]["cloudwatch-prod"]["id"] == source.pk


def test_applying_twice_changes_nothing_and_shows_no_key(tmp_path, capsys):
    first = apply(tmp_path, CONFIG, capsys)
    key_hashes = dict(DeploymentPipeline.objects.values_list("name", "key_hash"))

    second = apply(tmp_path, CONFIG, capsys)

    assert Team.objects.count() == 2 and Component.objects.count() == 2
    assert ComponentAlias.objects.count() == 2
    assert DeploymentPipeline.objects.count() == 2 and AlertSource.objects.count() == 1
    assert dict(DeploymentPipeline.objects.values_list("name", "key_hash")) == key_hashes
    generated = second["pipelines"]["payments-github"]
    assert "key" not in generated and "<integration-key>" in generated["url"]
    # Given in the file: the key may be shown, the admin already has it.
    assert second["pipelines"]["terraform"]["key"] == "kept-in-vault-0123456789"
    assert (
        second["pipelines"]["payments-github"]["id"] == first["pipelines"]["payments-github"]["id"]
    )


def test_updates_only_what_an_entry_lists_and_leaves_unlisted_things_alone(tmp_path, capsys):
    apply(tmp_path, CONFIG, capsys)
    TeamFactory(slug="unlisted")
    ComponentFactory(name="unlisted-service")

    apply(
        tmp_path,
        """
components:
  - name: payments-service
    aliases: [payments-v2]
alert_sources:
  - name: cloudwatch-prod
    kind: cloudwatch_sns
    window_minutes: 45
""",
        capsys,
    )

    payments = Component.objects.get(name="payments-service")
    assert list(payments.aliases.values_list("name", flat=True)) == ["payments-v2"]
    assert payments.owner_team.slug == "payments"  # not listed: unchanged
    assert list(payments.depends_on.values_list("name", flat=True)) == ["postgres-main"]
    source = AlertSource.objects.get(name="cloudwatch-prod")
    assert (source.window_minutes, source.skew_minutes) == (45, 5)
    assert Team.objects.filter(slug="unlisted").exists()
    assert Component.objects.filter(name="unlisted-service").exists()
    assert DeploymentPipeline.objects.count() == 2


def test_new_alias_points_existing_changes_at_the_component(
    tmp_path, capsys, django_capture_on_commit_callbacks
):
    # Of a pipeline without a team: another team's names are not a file's to claim
    # (tests/teams/test_component_claims.py).
    change = ChangeEventFactory(
        component="payments-prod", resolved_component=None, pipeline__team=None
    )
    with django_capture_on_commit_callbacks(execute=True):  # tasks run eagerly in unit tests
        apply(tmp_path, CONFIG, capsys)
    change.refresh_from_db()
    assert change.resolved_component.name == "payments-service"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("pipelines:\n  - name: ci\n    kind: bamboo\n", 'pipelines[0] (ci).kind: "bamboo"'),
        ("pipelines:\n  - kind: generic\n", "pipelines[0].name: This field is required."),
        (
            "pipelines:\n  - name: ci\n    kind: generic\n    team: ghosts\n",
            "pipelines[0] (ci).team: unknown team 'ghosts'",
        ),
        (
            "alert_sources:\n  - name: cw\n    kind: cloudwatch_sns\n    window_minutes: soon\n",
            "alert_sources[0] (cw).window_minutes: A valid integer is required.",
        ),
        (
            "alert_sources:\n  - name: cw\n    kind: eventbridge\n    insufficient_data: maybe\n",
            'alert_sources[0] (cw).insufficient_data: "maybe" is not a valid choice.',
        ),
        (
            "components:\n  - name: api\n    depends_on: [nowhere]\n",
            "components[0] (api).depends_on: unknown component 'nowhere'",
        ),
        (
            "components:\n  - name: a\n    aliases: [x]\n  - name: b\n    aliases: [x]\n",
            "components[1] (b).aliases: 'x' is already an alias of 'a'",
        ),
        (
            "pipelines:\n  - name: ci\n    kind: generic\n    colour: blue\n",
            "pipelines[0] (ci).colour: unknown field",
        ),
        (
            "pipelines:\n  - {name: ci, kind: generic}\n  - {name: ci, kind: github}\n",
            "pipelines[1] (ci).name: listed twice",
        ),
        (
            "pipelines:\n  - name: gitops\n    kind: flux\n    branches: [main]\n",
            "pipelines[0] (gitops).branches: Flux (notification-controller) events name no "
            "branch: leave branches out.",
        ),
        (
            "alert_sources:\n  - name: am\n    kind: alertmanager\n    branches: [main]\n",
            "alert_sources[0] (am).branches: Prometheus Alertmanager events name no branch",
        ),
        ("services: []\n", "services: unknown section"),
        ("teams: [\n", "not valid YAML"),
        ("- just a list\n", "the file must be a mapping"),
    ],
)
def test_invalid_files_name_entry_and_field_and_write_nothing(tmp_path, capsys, text, error):
    # A valid entry first: validation must stop it from being written too.
    errors = fails(tmp_path, "teams:\n  - slug: first\n" + text if text[0] != "-" else text, capsys)

    assert any(error in line for line in errors), errors
    assert not Team.objects.exists() and not DeploymentPipeline.objects.exists()
    assert not AlertSource.objects.exists() and not Component.objects.exists()


def test_missing_file_exits_2(tmp_path):
    with pytest.raises(CommandError) as raised:
        call_command("apply_config", str(tmp_path / "missing.yaml"))
    assert raised.value.returncode == 2


def test_a_key_already_used_by_another_pipeline_is_refused(tmp_path, capsys):
    apply(tmp_path, CONFIG, capsys)
    errors = fails(
        tmp_path,
        "pipelines:\n  - name: other\n    kind: generic\n    key: kept-in-vault-0123456789\n",
        capsys,
    )
    assert any("pipelines[0] (other).key: already the key" in line for line in errors)
    assert ChangeEvent.objects.count() == 0


def test_a_kind_without_branches_clears_a_branch_filter_left_from_its_old_kind(tmp_path, capsys):
    """As the form does: a pipeline moved to a kind whose events name no branch loses the filter
    nobody could see any more, and one with branches keeps it."""
    apply(tmp_path, "pipelines:\n  - {name: ci, kind: github, branches: [main]}\n", capsys)

    apply(tmp_path, "pipelines:\n  - {name: ci, kind: argocd}\n", capsys)

    assert DeploymentPipeline.objects.get(name="ci").branches == []
    apply(tmp_path, "pipelines:\n  - {name: ci, kind: jenkins, branches: [main]}\n", capsys)
    assert DeploymentPipeline.objects.get(name="ci").branches == ["main"]
