"""Pipeline and alert-source settings pages: keys shown once, rotation, permissions, CSRF."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from changes.models import ChangeEvent
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import AuditEntry
from tests.changes.ingest import post_json
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.settings_actors import ACTORS, ALLOWED, cast

pytestmark = pytest.mark.django_db


def integration_url(name: str, pipeline, word: str = "pipelines") -> str:
    return reverse(f"settings:{name}", kwargs={"kind_word": word, "pk": pipeline.pk})


def test_creating_a_pipeline_shows_the_key_once_and_the_key_works(client):
    people = cast()
    client.force_login(people.users["team-admin"])
    form = {"name": "payments-ci", "kind": "generic", "team": people.team.pk}
    response = client.post(reverse("settings:integration-new", args=["pipelines"]), form)
    pipeline = DeploymentPipeline.objects.get(name="payments-ci")
    assert response.status_code == 302

    first = client.get(response["Location"]).content.decode()
    key = first.split('id="shown-key" type="text" readonly value="')[1].split('"')[0]
    assert key.startswith(pipeline.key_prefix) and "shown only once" in first
    assert key not in client.get(response["Location"]).content.decode()  # not again
    assert post_json(Client(), {"component": "api", "description": "x"}, key=key).status_code == 202
    assert AuditEntry.objects.filter(action="created", target_type="pipeline").exists()


@pytest.mark.parametrize("kind", [k for k, _ in DeploymentPipeline.Kind.choices])
def test_each_pipeline_kind_gets_setup_snippets_with_the_real_url(client, kind, settings):
    settings.PUBLIC_URL = "https://wc.example.com"
    pipeline = DeploymentPipelineFactory(kind=kind)
    client.force_login(cast().users["member"])
    page = client.get(integration_url("integration", pipeline)).content.decode()
    assert "https://wc.example.com/" in page
    assert "Recent deliveries" in page and pipeline.secret not in page


@pytest.mark.parametrize("kind", [k for k, _ in AlertSource.Kind.choices])
def test_each_alert_source_kind_gets_setup_snippets(client, kind):
    source = AlertSourceFactory(kind=kind)
    client.force_login(cast().users["member"])
    page = client.get(integration_url("integration", source, "alert-sources")).content.decode()
    assert "Set it up" in page and "Correlation window" in page


def test_rotation_shows_the_new_key_once_and_the_old_one_fails(client):
    people = cast()
    pipeline = DeploymentPipelineFactory(team=people.team, key="old-key-0123456789")
    client.force_login(people.users["team-admin"])
    response = client.post(integration_url("integration-rotate-key", pipeline), follow=True)
    page = response.content.decode()
    new_key = page.split('id="shown-key" type="text" readonly value="')[1].split('"')[0]

    assert (
        post_json(
            Client(), {"component": "a", "description": "x"}, key="old-key-0123456789"
        ).status_code
        == 401
    )
    assert (
        post_json(Client(), {"component": "a", "description": "x"}, key=new_key).status_code == 202
    )


def test_deliveries_are_listed_with_their_payload_escaped(client):
    people = cast()
    pipeline = DeploymentPipelineFactory(key="key-with-deliveries-01", team=people.team)
    post_json(
        Client(),
        {"component": "<script>alert(1)</script>", "description": "x"},
        key="key-with-deliveries-01",
    )
    post_json(Client(), {"nonsense": True}, key="key-with-deliveries-01")
    client.force_login(people.users["member"])
    page = client.get(integration_url("integration", pipeline)).content.decode()
    assert page.count('class="delivery ') == 2
    assert "Rejected" in page and "Accepted" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


ACTIONS = {
    "integration-rotate-key": lambda p: (
        DeploymentPipeline.objects.get(pk=p.pk).key_hash != p.key_hash
    ),
    "integration-rotate-secret": lambda p: (
        DeploymentPipeline.objects.get(pk=p.pk).secret != p.secret
    ),
    "integration-toggle": lambda p: not DeploymentPipeline.objects.get(pk=p.pk).enabled,
    "integration-delete": lambda p: not DeploymentPipeline.objects.filter(pk=p.pk).exists(),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_only_the_teams_admins_and_staff_change_an_integration(client, actor, action):
    people = cast()
    pipeline = DeploymentPipelineFactory(team=people.team, kind="github")  # it signs
    client.force_login(people.users[actor])

    response = client.post(integration_url(action, pipeline))

    assert (response.status_code == 302) is ALLOWED[actor], response.status_code
    assert ACTIONS[action](pipeline) is ALLOWED[actor]
    if not ALLOWED[actor]:
        assert response.status_code == 403


@pytest.mark.parametrize("actor", ACTORS)
def test_only_admins_and_staff_edit_an_alert_source(client, actor):
    people = cast()
    source = AlertSourceFactory(team=people.team, kind="cloudwatch_sns")
    client.force_login(people.users[actor])
    form = {
        "name": source.name,
        "kind": "cloudwatch_sns",
        "team": people.team.pk,
        "default_severity": "critical",
        "insufficient_data": "raise",
        "window_minutes": 90,
        "skew_minutes": 3,
        "reopen_window_minutes": 10,
        "timestamp_tolerance_seconds": 300,
        "default_components": "payments-service, payments-db",
    }
    response = client.post(integration_url("integration-edit", source, "alert-sources"), form)
    source.refresh_from_db()
    assert (source.window_minutes == 90) is ALLOWED[actor]
    assert response.status_code == (302 if ALLOWED[actor] else 403)
    if ALLOWED[actor]:
        assert source.default_components == ["payments-service", "payments-db"]
        entry = AuditEntry.objects.get(action="changed")
        assert entry.details["window_minutes"] == [60, 90]


def test_a_window_over_a_day_is_refused_inline(client):
    people = cast()
    client.force_login(people.users["staff"])
    response = client.post(
        reverse("settings:integration-new", args=["alert-sources"]),
        {
            "name": "cw",
            "kind": "eventbridge",
            "default_severity": "high",
            "insufficient_data": "ignore",
            "window_minutes": 5000,
            "skew_minutes": 2,
            "reopen_window_minutes": 0,
            "timestamp_tolerance_seconds": 300,
        },
    )
    assert response.status_code == 400 and "less than or equal to 1440" in response.content.decode()


def test_a_team_admin_cannot_create_an_integration_for_another_team(client):
    people = cast()
    client.force_login(people.users["other-team-admin"])
    form = {"name": "sneaky", "kind": "generic", "team": people.team.pk}
    response = client.post(reverse("settings:integration-new", args=["pipelines"]), form)
    assert response.status_code in (400, 403)
    assert not DeploymentPipeline.objects.filter(name="sneaky").exists()


def test_mutations_need_csrf(client):
    people = cast()
    pipeline = DeploymentPipelineFactory(team=people.team)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(people.users["staff"])
    assert csrf_client.post(integration_url("integration-delete", pipeline)).status_code == 403
    assert DeploymentPipeline.objects.filter(pk=pipeline.pk).exists()


def test_settings_pages_never_show_a_secret_or_key_hash(client):
    pipeline = DeploymentPipelineFactory(secret="very-secret-value-123")
    client.force_login(cast().users["member"])
    for url in (reverse("settings:overview"), integration_url("integration", pipeline)):
        page = client.get(url).content.decode()
        assert "very-secret-value-123" not in page and pipeline.key_hash not in page
    assert ChangeEvent.objects.count() == 0
    assert (
        json.dumps(list(AuditEntry.objects.values_list("details", flat=True))).count("very-secret")
        == 0
    )
