"""The main navigation marks the section of every page (aria-current), and every page starts
with a skip link to its content."""

import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# Every page in the layout, with the arguments it takes (filled with real rows by `urls`) and
# the nav link it marks as current. None: deliberately no section (the profile is the user's
# own, reached from the account area, not from the navigation).
PAGES = {
    "changes:list": ({}, "Deployments"),
    "changes:detail": ({"pk": "change"}, "Deployments"),
    "changes:new": ({}, "Deployments"),
    "incidents:list": ({}, "Incidents"),
    "incidents:detail": ({"pk": "incident"}, "Incidents"),
    "incidents:component": ({"slug": "component"}, "Incidents"),
    "incidents:insights": ({}, "Insights"),
    "settings:overview": ({}, "Settings"),
    "settings:team-new": ({}, "Settings"),
    "settings:team": ({"slug": "team"}, "Settings"),
    "settings:components": ({}, "Settings"),
    "settings:component-new": ({}, "Settings"),
    "settings:component-edit": ({"slug": "component"}, "Settings"),
    "settings:audit": ({}, "Settings"),
    "settings:integration-new": ({"kind_word": "alert-sources"}, "Settings"),
    "settings:integration": ({"kind_word": "pipelines", "pk": "pipeline"}, "Settings"),
    "settings:integration-edit": ({"kind_word": "alert-sources", "pk": "source"}, "Settings"),
    "profile": ({}, None),
}
# Named URLs that are no page of the layout: their own login (the admin), the API and its docs
# page (drf-spectacular's own template), and logging in and out.
OUTSIDE = {"admin", "api-schema", "api-docs", "login", "logout"}
NAV = re.compile(r'<nav class="nav"[^>]*>(.*?)</nav>', re.S)
CURRENT = re.compile(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>')
FOCUSABLE = re.compile(r"<(a|button|input|select|textarea|summary)\b[^>]*>")


@pytest.fixture
def rows() -> dict[str, object]:
    team = TeamFactory()
    incident = IncidentFactory()
    return {
        "change": ChangeEventFactory().pk,
        "incident": incident.pk,
        "component": ComponentFactory(owner_team=team).slug,
        "team": team.slug,
        "pipeline": DeploymentPipelineFactory(team=team).pk,
        "source": AlertSourceFactory(team=team).pk,
        "member": MembershipFactory(team=team).pk,
    }


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True))
    return client


def url(name: str, rows: dict[str, object]) -> str:
    arguments, _ = PAGES[name]
    return reverse(name, kwargs={key: rows.get(value, value) for key, value in arguments.items()})


def named_urls(patterns=None, namespace: str = "") -> list[str]:
    names = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in OUTSIDE or (pattern.namespace or "").endswith("-api"):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names += named_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.append(f"{namespace}{pattern.name}")
    return [name for name in names if name not in OUTSIDE]


def nav_current(page: str) -> list[str]:
    nav = NAV.search(page)
    assert nav, "no main navigation"
    return CURRENT.findall(nav.group(1))


@pytest.mark.parametrize("name", PAGES)
def test_each_page_marks_its_section_and_only_that(staff_client, rows, name):
    response = staff_client.get(url(name, rows))
    assert response.status_code == 200, (name, response.status_code)

    expected = PAGES[name][1]
    assert nav_current(response.content.decode()) == ([expected] if expected else [])


def test_every_page_of_the_layout_is_listed_above(staff_client, rows):
    """A new page must say which section it belongs to. What answers GET with a whole page is a
    page; POST-only actions (405) and htmx fragments are not."""
    unlisted = []
    for name in named_urls():
        if name in PAGES:
            continue
        response = staff_client.get(reverse(name, kwargs=_sample_arguments(name, rows)))
        if response.status_code == 200 and b"<html" in response.content:
            unlisted.append(name)
    assert unlisted == []


def _sample_arguments(name: str, rows: dict[str, object]) -> dict[str, object]:
    """Real rows for whatever a URL takes: the first set of arguments it accepts."""
    for arguments in (
        {},
        {"pk": rows["incident"]},
        {"slug": rows["team"]},
        {"slug": rows["team"], "pk": rows["member"]},
        {"kind_word": "pipelines", "pk": rows["pipeline"]},
        {"kind_word": "pipelines"},
    ):
        try:
            reverse(name, kwargs=arguments)
        except NoReverseMatch:
            continue
        return arguments
    raise AssertionError(f"no sample arguments for {name}")


def test_the_nav_links_the_api_docs_and_they_answer(staff_client):
    page = staff_client.get(reverse("changes:list")).content.decode()
    nav = NAV.search(page).group(1)
    assert f'<a href="{reverse("api-docs")}">API</a>' in nav
    assert staff_client.get(reverse("api-docs")).status_code == 200


def first_focusable(page: str) -> str:
    body = page[page.index("<body") :]
    for element in FOCUSABLE.finditer(body[1:]):
        tag = element.group(0)
        if 'type="hidden"' in tag or " hidden" in tag:
            continue
        return tag
    raise AssertionError("nothing focusable")


@pytest.mark.parametrize("name", PAGES)
def test_each_page_starts_with_a_skip_link_to_its_content(staff_client, rows, name):
    page = staff_client.get(url(name, rows)).content.decode()
    assert first_focusable(page) == '<a class="skip-link" href="#content">'
    assert len(re.findall(r'<main [^>]*id="content"', page)) == 1


def test_pages_outside_the_sections_have_the_skip_link_too(staff_client):
    login = Client().get(reverse("login")).content.decode()
    missing = staff_client.get("/no-such-page/")
    for page in (login, missing.content.decode()):
        assert first_focusable(page) == '<a class="skip-link" href="#content">'
        assert 'id="content"' in page
    assert nav_current(missing.content.decode()) == []
