"""A component's "Depends on" is a checklist of checkboxes (common.widgets.Checklist) with a
filter box, the checked ones first, not a Ctrl-click multi-select; it saves the dependencies."""

import re

import pytest
from django.urls import reverse

from common.widgets import Checklist
from teams.models import Component
from tests.settings_actors import cast
from tests.teams.factories import ComponentFactory

pytestmark = pytest.mark.django_db


def checkboxes(page: str) -> list[tuple[str, bool]]:
    """[(label, checked), ...] of the depends-on checklist, in page order."""
    return [
        (label, " checked" in attributes)
        for attributes, label in re.findall(
            r'<input type="checkbox" name="depends_on"([^>]*)> <span>([^<]*)</span>', page
        )
    ]


@pytest.fixture
def people():
    return cast()


@pytest.fixture
def admin_client(client, people):
    client.force_login(people.users["team-admin"])
    return client


def test_depends_on_is_a_filterable_checklist_with_the_checked_first(admin_client, people):
    for name in ("auth-service", "cache", "postgres-main", "queue", "search-api"):
        ComponentFactory(name=name, owner_team=people.team)
    checkout = ComponentFactory(name="checkout", owner_team=people.team)
    checkout.depends_on.set(Component.objects.filter(name__in=["queue", "postgres-main"]))

    page = admin_client.get(reverse("settings:component-edit", args=[checkout.slug]))

    html = page.content.decode()
    assert "<select" not in html.split('name="aliases"')[1]  # no multi-select any more
    assert "<legend>Depends on</legend>" in html
    assert 'class="checklist-filter"' in html and "data-checklist" in html
    assert checkboxes(html) == [
        ("postgres-main", True),
        ("queue", True),
        ("auth-service", False),
        ("cache", False),
        ("search-api", False),
    ]  # itself not offered


def test_a_checked_dependency_is_saved_and_listed(admin_client, people):
    database = ComponentFactory(name="postgres-main", owner_team=people.team)
    ComponentFactory(name="cache", owner_team=people.team)
    form = {"name": "checkout", "owner_team": people.team.pk, "depends_on": [database.pk]}

    response = admin_client.post(reverse("settings:component-new"), form)

    assert response.status_code == 302
    checkout = Component.objects.get(name="checkout")
    assert list(checkout.depends_on.values_list("name", flat=True)) == ["postgres-main"]
    page = admin_client.get(reverse("settings:component-edit", args=[checkout.slug]))
    assert checkboxes(page.content.decode())[0] == ("postgres-main", True)


def test_a_form_with_errors_keeps_what_was_checked_first(admin_client, people):
    ComponentFactory(name="auth-service", owner_team=people.team)
    queue = ComponentFactory(name="queue", owner_team=people.team)
    form = {"name": "", "owner_team": people.team.pk, "depends_on": [queue.pk]}

    response = admin_client.post(reverse("settings:component-new"), form)

    assert response.status_code == 400
    assert checkboxes(response.content.decode()) == [("queue", True), ("auth-service", False)]


@pytest.mark.parametrize("count", [3, 40])
def test_the_form_costs_the_same_for_3_and_40_components(
    admin_client, people, django_assert_num_queries, count
):
    for number in range(count):
        ComponentFactory(name=f"service-{number:02}", owner_team=people.team)
    component = Component.objects.get(name="service-00")

    # session, user, component, its admin check, aliases, dependencies, teams, the checklist
    with django_assert_num_queries(8):
        response = admin_client.get(reverse("settings:component-edit", args=[component.slug]))
    assert len(checkboxes(response.content.decode())) == count - 1


def test_the_checklist_escapes_labels_and_marks_each_checked_value():
    widget = Checklist(choices=[("1", "<b>db</b>"), ("2", "cache & queue"), ("3", "api")])

    html = widget.render("depends_on", ["3", "1"], attrs={"id": "id_depends_on"})

    assert html.startswith('<div class="checklist" id="id_depends_on" data-checklist>')
    assert "&lt;b&gt;db&lt;/b&gt;" in html and "<b>" not in html
    assert "cache &amp; queue" in html
    assert checkboxes(html) == [
        ("&lt;b&gt;db&lt;/b&gt;", True),
        ("api", True),
        ("cache &amp; queue", False),
    ]
    # Without JavaScript the filter stays hidden: static/js/app.js shows it.
    assert re.search(r'<input type="search" class="checklist-filter"[^>]* hidden>', html)
