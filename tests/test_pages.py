"""Every page needs a login; the shell renders in a constant number of queries."""

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from incidents.models import Incident
from tests.incidents.factories import IncidentFactory, SuspectChangeFactory, TimelineEntryFactory

pytestmark = pytest.mark.django_db

PUBLIC = {"login", "logout"}
OWN_LOGIN = {"admin", "api-schema"}  # the admin has its own login page; the API answers 401


def page_names(patterns=None, namespace: str = "") -> list[str]:
    """Every named URL of the project, so a new page cannot forget its login check."""
    names = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in OWN_LOGIN or (pattern.namespace or "").endswith("-api"):
                continue  # the APIs answer 401 in JSON: tests/*/test_read_api.py
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names += page_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.append(f"{namespace}{pattern.name}")
    return [name for name in names if name not in PUBLIC | OWN_LOGIN]


def url_of(name: str) -> str:
    """The URL of a named page, with sample values for whatever it takes."""
    for arguments in (
        {},
        {"pk": 1},
        {"slug": "x"},
        {"slug": "x", "pk": 1},
        {"kind_word": "pipelines", "pk": 1},
        {"kind_word": "pipelines"},
    ):
        try:
            return reverse(name, kwargs=arguments)
        except NoReverseMatch:
            continue
    raise AssertionError(f"no sample arguments for {name}")


def test_all_pages_are_found():
    assert {"changes:list", "changes:detail", "incidents:list", "settings:overview"} <= set(
        page_names()
    )


@pytest.mark.parametrize("name", page_names())
def test_anonymous_users_are_sent_to_login(client, name):
    url = url_of(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_api_schema_answers_401_without_credentials(client):
    assert client.get(reverse("api-schema")).status_code == 401


def test_api_docs_work_offline_once_logged_in(logged_in_client):
    page = logged_in_client.get(reverse("api-docs")).content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower()


def test_login_page_and_logout(client, user):
    assert "Log in" in client.get(reverse("login")).content.decode()
    response = client.post(
        reverse("login"), {"username": "oncall", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert "Deployments" in client.get(reverse("changes:list")).content.decode()
    client.post(reverse("logout"))
    assert client.get(reverse("changes:list")).status_code == 302


def test_shell_has_navigation_and_vendored_htmx(logged_in_client):
    page = logged_in_client.get(reverse("changes:list")).content.decode()
    for label in ("Deployments", "Incidents", "Settings"):
        assert label in page
    assert "/static/django_htmx/htmx" in page and "unpkg" not in page
    assert 'hx-headers=\'{"X-CSRFToken": "' in page


def test_unknown_page_is_404_in_the_layout(logged_in_client):
    response = logged_in_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert "Deployments" in response.content.decode()


def test_server_error_page_renders_in_the_layout_without_a_request():
    page = render_to_string("500.html")  # Django renders it with no context at all
    assert "Something broke on our side" in page and "whatchanged" in page.lower()


def test_empty_states_guide_the_user(logged_in_client):
    assert "No deployments yet" in logged_in_client.get(reverse("changes:list")).content.decode()


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("count", [2, 40])
def test_incident_pages_cost_does_not_grow_with_rows(logged_in_client, count):
    IncidentFactory.create_batch(count)
    IncidentFactory.create_batch(count, status=Incident.Status.RESOLVED)
    assert queries_for(logged_in_client, reverse("incidents:list")) <= 6

    incident = IncidentFactory()
    TimelineEntryFactory.create_batch(count, incident=incident)
    for rank in range(1, min(count, 10) + 1):
        SuspectChangeFactory(incident=incident, rank=rank)
    assert queries_for(logged_in_client, reverse("incidents:detail", args=[incident.pk])) <= 9
