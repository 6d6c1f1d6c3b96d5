"""A name another team's pipelines report changes under is theirs: a team admin cannot take it
for their own team as a component or an alias (which would re-home those changes), not in
Settings, not through the API, not in a configuration file. Staff and that team's admins may.
Names only manual changes or the claiming team's own pipelines use are free."""

import html
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from changes.models import ChangeEvent
from teams import services
from teams.models import Component, ComponentAlias, Team
from tests.changes.factories import ChangeEventFactory
from tests.changes.ingest import pipeline_for, post_json
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

REFUSED = (
    "checkout-api is already used by changes from Checkout's pipelines; "
    "only Checkout's admins or staff can claim it."
)


@pytest.fixture
def checkout(client) -> Team:
    """Checkout's pipeline has reported a change of `Checkout-API` (stored normalised)."""
    team = TeamFactory(slug="checkout", name="Checkout")
    pipeline_for("alert24", team=team)
    response = post_json(client, {"component": "Checkout-API", "summary": "Deploy v2.1.0"})
    assert response.status_code == 202, response.content
    assert ChangeEvent.objects.get().component == "checkout-api"
    return team


@pytest.fixture
def payments() -> Team:
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def payments_admin(payments):
    return MembershipFactory(team=payments, role="admin", user__username="pat").user


def logged_in(user: Any) -> Client:
    """A browser session: the Settings pages, and the API as scripts with a session use it."""
    client = Client()
    client.force_login(user)
    return client


def send(user: Any, method: str, url: str, body: dict) -> Any:
    """JSON to the configuration API."""
    return getattr(logged_in(user), method)(url, json.dumps(body), content_type="application/json")


def the_change() -> ChangeEvent:
    return ChangeEvent.objects.get(component="checkout-api")


# --- Settings pages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        {"name": "payments-service", "aliases": "payments-prod, Checkout-API"},
        {"name": "Checkout-API"},
    ],
    ids=["alias", "component"],
)
def test_a_team_admin_cannot_claim_another_teams_name_in_settings(
    checkout, payments, payments_admin, form
):
    response = logged_in(payments_admin).post(
        reverse("settings:component-new"), {"owner_team": payments.pk, **form}
    )

    assert response.status_code == 400
    assert REFUSED in html.unescape(response.content.decode())
    field = "aliases" if "aliases" in form else "name"
    assert response.context["form"].errors[field] == [REFUSED]
    assert not Component.objects.exists() and not ComponentAlias.objects.exists()


def test_adding_the_alias_to_an_existing_component_is_refused_too(
    checkout, payments, payments_admin
):
    component = ComponentFactory(name="payments-service", owner_team=payments)
    component.aliases.create(name="payments-prod")
    form = {"name": "payments-service", "owner_team": payments.pk}

    response = logged_in(payments_admin).post(
        reverse("settings:component-edit", args=[component.slug]),
        {**form, "aliases": "payments-prod, checkout-api"},
    )

    assert response.status_code == 400 and REFUSED in html.unescape(response.content.decode())
    assert list(component.aliases.values_list("name", flat=True)) == ["payments-prod"]
    assert the_change().resolved_component is None


def test_a_name_staff_gave_the_team_stays_when_its_admin_edits_the_component(
    checkout, payments, payments_admin
):
    component = ComponentFactory(name="payments-service", owner_team=payments)
    component.aliases.create(name="checkout-api")  # staff's claim
    form = {"name": "payments-service", "owner_team": payments.pk, "aliases": "checkout-api, pay"}

    response = logged_in(payments_admin).post(
        reverse("settings:component-edit", args=[component.slug]), form
    )

    assert response.status_code == 302  # keeping what it has is no new claim
    assert sorted(component.aliases.values_list("name", flat=True)) == ["checkout-api", "pay"]


@pytest.mark.parametrize("who", ["staff", "admin of both teams"])
def test_staff_and_checkouts_admin_may_claim_it_in_settings(
    checkout, payments, payments_admin, who, django_capture_on_commit_callbacks
):
    user = payments_admin
    if who == "staff":
        user = UserFactory(username="root", is_staff=True)
    else:
        MembershipFactory(team=checkout, role="admin", user=payments_admin)
    form = {"name": "payments-service", "owner_team": payments.pk, "aliases": "Checkout-API "}

    with django_capture_on_commit_callbacks(execute=True):  # re-resolves the recorded changes
        response = logged_in(user).post(reverse("settings:component-new"), form)

    assert response.status_code == 302, response.content
    assert the_change().resolved_component.name == "payments-service"


# --- The API -----------------------------------------------------------------------------------


def test_a_team_admin_cannot_claim_another_teams_name_through_the_api(
    checkout, payments, payments_admin
):
    component = ComponentFactory(name="payments-service", owner_team=payments)
    body = {"name": "checkout-api", "owner_team": "payments"}

    created = send(payments_admin, "post", "/api/v1/components", body)
    changed = send(
        payments_admin,
        "patch",
        f"/api/v1/components/{component.slug}",
        {"aliases": ["payments-prod", "CHECKOUT-API"]},
    )

    assert created.status_code == 400
    assert created.json() == {"code": "invalid", "message": REFUSED, "fields": {"name": [REFUSED]}}
    assert changed.status_code == 400
    assert changed.json()["fields"] == {"aliases": [REFUSED]}
    assert list(Component.objects.values_list("name", flat=True)) == ["payments-service"]
    assert not ComponentAlias.objects.exists()


def test_moving_a_component_to_another_team_claims_its_names_anew(checkout, payments):
    """Staff made `checkout-api` a Payments component; an admin of Payments and of a third team
    may change it, but not hand Checkout's changes on to that team."""
    search = TeamFactory(slug="search", name="Search")
    component = ComponentFactory(name="checkout-api", owner_team=payments)
    admin = MembershipFactory(team=payments, role="admin", user__username="sam").user
    MembershipFactory(team=search, role="admin", user=admin)
    url = f"/api/v1/components/{component.slug}"

    changed = send(admin, "patch", url, {"aliases": ["co"]})
    moved = send(admin, "patch", url, {"owner_team": "search"})

    assert changed.status_code == 200  # keeping its name is no new claim
    assert moved.status_code == 400 and moved.json()["message"] == REFUSED
    component.refresh_from_db()
    assert component.owner_team == payments


@pytest.mark.parametrize("who", ["staff", "admin of both teams"])
def test_staff_and_checkouts_admin_may_claim_it_through_the_api(checkout, payments, who):
    if who == "staff":
        user = UserFactory(username="root", is_staff=True)
    else:
        user = MembershipFactory(team=payments, role="admin", user__username="both").user
        MembershipFactory(team=checkout, role="admin", user=user)

    created = send(
        user, "post", "/api/v1/components", {"name": "Checkout-API", "owner_team": "payments"}
    )

    assert created.status_code == 201, created.content
    assert created.json()["name"] == "checkout-api"


def test_names_of_manual_changes_and_of_the_teams_own_pipelines_are_free(
    checkout, payments, payments_admin
):
    ChangeEventFactory(component="hotfix-box", pipeline=None, author=payments_admin, kind="manual")
    ChangeEventFactory(component="payments-prod", pipeline=DeploymentPipelineFactory(team=payments))
    ChangeEventFactory(component="legacy-batch", pipeline=DeploymentPipelineFactory(team=None))
    body = {
        "name": "payments-service",
        "owner_team": "payments",
        "aliases": ["hotfix-box", "payments-prod", "legacy-batch"],
    }

    response = send(payments_admin, "post", "/api/v1/components", body)

    assert response.status_code == 201, response.content
    assert response.json()["aliases"] == ["hotfix-box", "legacy-batch", "payments-prod"]


def test_the_check_is_one_query_and_none_for_staff(
    checkout, payments, payments_admin, django_assert_num_queries
):
    staff = UserFactory(username="root", is_staff=True)
    claim = {
        "component": None,
        "name": "payments-service",
        "aliases": ["a", "b", "checkout-api"],
        "owner_team": payments,
    }
    with django_assert_num_queries(1), pytest.raises(services.SettingInvalid):
        services.check_component_claim(by=payments_admin, **claim)
    with django_assert_num_queries(0):
        services.check_component_claim(by=staff, **claim)


# --- The configuration file --------------------------------------------------------------------


def apply_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "whatchanged.yaml"
    path.write_text(text, encoding="utf-8")
    call_command("apply_config", str(path))


CLAIMING_FILE = """
components:
  - name: payments-service
    team: payments
    aliases: [payments-prod, checkout-api]
"""


def test_a_configuration_file_cannot_claim_another_teams_name(checkout, payments, tmp_path, capsys):
    with pytest.raises(CommandError) as raised:
        apply_file(tmp_path, CLAIMING_FILE)

    assert raised.value.returncode == 2
    errors = capsys.readouterr().err.splitlines()
    assert any(
        line.endswith(f"components[0] (payments-service).aliases: {REFUSED}") for line in errors
    ), errors
    assert not Component.objects.exists()


def test_a_file_reapplies_a_claim_staff_made(checkout, payments, tmp_path, capsys):
    staff = UserFactory(username="root", is_staff=True)
    services.save_component(
        by=staff,
        component=None,
        name="payments-service",
        owner_team=payments,
        aliases=["checkout-api"],
        depends_on=[],
    )

    apply_file(tmp_path, CLAIMING_FILE)

    aliases = Component.objects.get(name="payments-service").aliases.values_list("name", flat=True)
    assert sorted(aliases) == ["checkout-api", "payments-prod"]
    assert "error" not in capsys.readouterr().err
