"""Who sees an integration's deliveries (the logged requests, payloads included): its team's
members and admins, and staff; nobody else, on the integration page, through both deliveries
endpoints and on a change's page. The integration and change pages themselves stay open to
everyone logged in (on-call needs them). The rule: teams.permissions.can_see_deliveries."""

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from changes.models import ChangeEvent
from pipelines.models import DeploymentPipeline
from teams.models import Team
from tests.changes.ingest import post_json, post_raw
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.settings_actors import cast
from tests.teams.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# A member and an admin of the integration's team, staff; an admin and a member of another
# team, someone in no team.
SEES = {
    "member": True,
    "team-admin": True,
    "staff": True,
    "other-team-admin": False,
    "other-team-member": False,
    "no-team": False,
}
ACTORS = tuple(SEES)
SECRET_DETAIL = "db-password-hint-in-a-payload"
HIDDEN = "Deliveries are visible to Payments&#x27;s members."


@pytest.fixture
def people() -> tuple[Team, dict[str, Any]]:
    """The cast of tests/settings_actors.py, plus a member of another team and a loner."""
    people = cast()
    users = dict(people.users)
    users["other-team-member"] = MembershipFactory(
        team=TeamFactory(slug="search"), user__username="other-member"
    ).user
    users["no-team"] = UserFactory(username="loner")
    return people.team, users


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_through_ingest(pipeline: DeploymentPipeline, key: str) -> ChangeEvent:
    """A change posted as a producer would: its delivery is logged with the payload."""
    body = {"component": "payments", "description": "deploy", "metadata": {"n": SECRET_DETAIL}}
    assert post_json(Client(), body, key=key).status_code == 202
    return ChangeEvent.objects.get(pipeline=pipeline)


def alert_through_ingest(key: str) -> None:
    body = json.dumps({"title": "Error rate high", "description": SECRET_DETAIL})
    response = post_raw(Client(), "/api/v1/alerts", body, {"Authorization": f"Bearer {key}"})
    assert response.status_code in (200, 201, 202), response.content


def integration_page(client: Client, word: str, integration: Any) -> str:
    url = reverse("settings:integration", kwargs={"kind_word": word, "pk": integration.pk})
    response = client.get(url)
    assert response.status_code == 200  # the page itself is everyone's
    return response.content.decode()


def integration_with_a_delivery(word: str, team: Team | None) -> Any:
    if word == "pipelines":
        pipeline = DeploymentPipelineFactory(team=team, key="visibility-key-0001")
        change_through_ingest(pipeline, "visibility-key-0001")
        return pipeline
    source = AlertSourceFactory(team=team, key="visibility-key-0002")
    alert_through_ingest("visibility-key-0002")
    return source


# --- the integration page --------------------------------------------------------------------


@pytest.mark.parametrize("word", ["pipelines", "alert-sources"])
@pytest.mark.parametrize("role", ACTORS)
def test_the_integration_page_shows_deliveries_to_the_team_and_staff_only(people, word, role):
    team, users = people
    integration = integration_with_a_delivery(word, team)

    page = integration_page(logged_in(users[role]), word, integration)

    assert "Recent deliveries" in page and integration.name in page
    if SEES[role]:
        assert 'class="delivery ' in page and SECRET_DETAIL in page
        assert HIDDEN not in page
    else:
        assert 'class="delivery ' not in page and SECRET_DETAIL not in page
        assert HIDDEN in page


@pytest.mark.parametrize("word", ["pipelines", "alert-sources"])
@pytest.mark.parametrize("role", ACTORS)
def test_deliveries_of_an_integration_without_a_team_are_for_staff(people, word, role):
    _, users = people
    integration = integration_with_a_delivery(word, None)

    page = integration_page(logged_in(users[role]), word, integration)

    assert (SECRET_DETAIL in page) is (role == "staff")
    hidden = "Deliveries of an integration without a team are visible to staff only."
    assert (hidden in page) is (role != "staff")


# --- the deliveries endpoints ----------------------------------------------------------------


@pytest.mark.parametrize("word", ["pipelines", "alert-sources"])
@pytest.mark.parametrize("role", ACTORS)
def test_the_deliveries_endpoints_answer_the_team_and_staff_only(people, word, role):
    team, users = people
    integration = integration_with_a_delivery(word, team)
    url = f"/api/v1/{word}/{integration.pk}/deliveries"

    response = logged_in(users[role]).get(url)

    if SEES[role]:
        assert response.status_code == 200
        assert SECRET_DETAIL in response.json()[0]["payload"]
    else:
        assert response.status_code == 403, response.content
        assert response.json() == {
            "code": "permission_denied",
            "message": "Deliveries are visible to Payments's members.",
            "fields": {},
        }
    # The integration itself stays readable by everyone logged in.
    assert logged_in(users[role]).get(f"/api/v1/{word}/{integration.pk}").status_code == 200


@pytest.mark.parametrize("word", ["pipelines", "alert-sources"])
def test_a_team_less_integrations_deliveries_endpoint_is_staff_only(people, word):
    _, users = people
    integration = integration_with_a_delivery(word, None)
    url = f"/api/v1/{word}/{integration.pk}/deliveries"

    assert logged_in(users["team-admin"]).get(url).status_code == 403
    assert logged_in(users["staff"]).get(url).status_code == 200


# --- the change page -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ACTORS)
def test_the_change_page_lists_a_reports_deliveries_for_the_team_and_staff_only(people, role):
    team, users = people
    pipeline = DeploymentPipelineFactory(team=team, key="visibility-key-0003")
    change = change_through_ingest(pipeline, "visibility-key-0003")
    delivery = pipeline.deliveries.get()

    response = logged_in(users[role]).get(reverse("changes:detail", args=[change.pk]))

    assert response.status_code == 200  # the change is everyone's
    page = response.content.decode()
    assert pipeline.name in page
    assert (f"#delivery-{delivery.pk}" in page) is SEES[role]
    assert (HIDDEN in page) is not SEES[role]


def test_the_change_page_shows_each_report_by_its_own_teams_rule(people):
    """One change reported by two teams' pipelines: a member of one sees that one's only."""
    team, users = people
    other = Team.objects.get(slug="search")
    ours = DeploymentPipelineFactory(team=team, key="visibility-key-0004")
    theirs = DeploymentPipelineFactory(team=other, key="visibility-key-0005")
    change = change_through_ingest(ours, "visibility-key-0004")
    body = {"component": "payments", "description": "deploy", "commit": change.commit}
    assert post_json(Client(), body, key="visibility-key-0005").status_code == 202
    theirs_delivery = theirs.deliveries.get()
    report = ChangeEvent.objects.get(pipeline=theirs)
    ChangeEvent.objects.filter(pk=report.pk).update(same_as=change)  # one logical change

    page = logged_in(users["member"]).get(reverse("changes:detail", args=[change.pk]))

    body_text = page.content.decode()
    assert f"#delivery-{ours.deliveries.get().pk}" in body_text
    assert f"#delivery-{theirs_delivery.pk}" not in body_text
    assert "Deliveries are visible to Search&#x27;s members." in body_text


# --- query counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "team-admin", "staff", "other-team-admin", "no-team"])
def test_the_integration_page_costs_the_same_for_every_reader(
    people, role, django_assert_num_queries
):
    """Session, user, the integration, the admin check (none for staff), the membership check
    (none for staff or an admin), the deliveries (none when hidden)."""
    team, users = people
    integration = integration_with_a_delivery("pipelines", team)
    client = logged_in(users[role])
    queries = {"member": 6, "team-admin": 5, "staff": 4, "other-team-admin": 5, "no-team": 5}

    with django_assert_num_queries(queries[role]):
        integration_page(client, "pipelines", integration)


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("role", ["member", "staff", "no-team"])
def test_the_change_page_asks_for_the_readers_teams_once(
    people, role, count, django_assert_num_queries
):
    """However many teams' pipelines reported the change: one query for the reader's teams
    (none for staff), one for the deliveries (none when all are hidden)."""
    team, users = people
    pipeline = DeploymentPipelineFactory(team=team, key="visibility-key-0006")
    change = change_through_ingest(pipeline, "visibility-key-0006")
    for number in range(1, count):
        key = f"visibility-key-01{number:02d}"
        other = DeploymentPipelineFactory(team=TeamFactory(), key=key)
        body = {"component": "payments", "description": "deploy", "commit": f"c{number}"}
        assert post_json(Client(), body, key=key).status_code == 202
        ChangeEvent.objects.filter(pipeline=other).update(same_as=change)
    client = logged_in(users[role])
    url = reverse("changes:detail", args=[change.pk])
    client.get(url)

    # Session, user, the change, its other reports, suspicions, rollbacks it made, then the
    # reader's teams and the deliveries.
    queries = {"member": 8, "staff": 7, "no-team": 7}
    with django_assert_num_queries(queries[role]):
        assert client.get(url).status_code == 200
