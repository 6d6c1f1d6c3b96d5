"""Team, member, catalog and audit pages: who may change what, and that it is recorded."""

import pytest
from django.test import Client
from django.urls import reverse

from teams.models import AuditEntry, Component, Membership, Team
from tests.settings_actors import ACTORS, ALLOWED, cast
from tests.teams.factories import ComponentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("actor", ACTORS)
def test_only_staff_create_teams(client, actor):
    people = cast()
    client.force_login(people.users[actor])
    response = client.post(reverse("settings:team-new"), {"slug": "billing", "name": "Billing"})
    assert Team.objects.filter(slug="billing").exists() is (actor == "staff")
    assert response.status_code == (302 if actor == "staff" else 403)


@pytest.mark.parametrize("actor", ACTORS)
def test_member_management_is_for_the_teams_admins(client, actor):
    people = cast()
    newcomer = UserFactory(username="newcomer", email="new@example.com")
    client.force_login(people.users[actor])
    slug = people.team.slug

    client.post(
        reverse("settings:member-add", args=[slug]), {"user": "new@example.com", "role": "member"}
    )
    added = Membership.objects.filter(team=people.team, user=newcomer).first()
    assert (added is not None) is ALLOWED[actor]
    member = Membership.objects.get(team=people.team, user=people.users["member"])
    client.post(reverse("settings:member-role", args=[slug, member.pk]), {"role": "admin"})
    member.refresh_from_db()
    assert (member.role == "admin") is ALLOWED[actor]
    response = client.post(reverse("settings:member-remove", args=[slug, member.pk]))
    assert Membership.objects.filter(pk=member.pk).exists() is not ALLOWED[actor]
    assert response.status_code == (302 if ALLOWED[actor] else 403)
    assert AuditEntry.objects.filter(target_type="member").count() == (3 if ALLOWED[actor] else 0)


def test_adding_an_unknown_user_says_so(client):
    people = cast()
    client.force_login(people.users["team-admin"])
    response = client.post(
        reverse("settings:member-add", args=[people.team.slug]),
        {"user": "ghost", "role": "member"},
        follow=True,
    )
    assert "No user" in response.content.decode()


def test_the_last_admin_stays_and_the_page_says_why(client):
    people = cast()
    admin = Membership.objects.get(team=people.team, user=people.users["team-admin"])
    client.force_login(people.users["team-admin"])

    removed = client.post(
        reverse("settings:member-remove", args=[people.team.slug, admin.pk]), follow=True
    )
    demoted = client.post(
        reverse("settings:member-role", args=[people.team.slug, admin.pk]),
        {"role": "member"},
        follow=True,
    )

    for response in (removed, demoted):
        assert response.status_code == 200
        assert "last admin of the team" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == "admin"


@pytest.mark.parametrize("actor", ACTORS)
def test_components_are_changed_by_their_owner_teams_admins(client, actor):
    people = cast()
    component = ComponentFactory(name="payments-service", owner_team=people.team)
    client.force_login(people.users[actor])
    form = {
        "name": "payments-service",
        "owner_team": people.team.pk,
        "aliases": "payments-prod, pay",
    }
    response = client.post(reverse("settings:component-edit", args=[component.slug]), form)
    assert component.aliases.filter(name="payments-prod").exists() is ALLOWED[actor]
    assert response.status_code == (302 if ALLOWED[actor] else 403)


def test_an_alias_clash_is_shown_on_the_form(client):
    people = cast()
    ComponentFactory(name="search-api").aliases.create(name="search")
    client.force_login(people.users["staff"])
    response = client.post(
        reverse("settings:component-new"), {"name": "finder", "aliases": "search"}
    )
    assert (
        response.status_code == 400
        and "already names another component" in response.content.decode()
    )
    assert not Component.objects.filter(name="finder").exists()


def test_audit_log_lists_changes_filtered_by_team(client):
    people = cast()
    client.force_login(people.users["staff"])
    client.post(reverse("settings:team-update", args=[people.team.slug]), {"name": "Payments & Co"})
    client.post(reverse("settings:team-new"), {"slug": "billing", "name": "Billing"})

    everything = client.get(reverse("settings:audit")).content.decode()
    payments = client.get(reverse("settings:audit"), {"team": "payments"}).content.decode()
    assert "Payments &amp; Co" in everything and "billing" in everything
    assert "Payments &amp; Co" in payments and "Billing" not in payments.split("<tbody>")[1]


def test_team_page_needs_csrf_for_changes(client):
    people = cast()
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(people.users["staff"])
    response = csrf_client.post(
        reverse("settings:team-update", args=[people.team.slug]), {"name": "X"}
    )
    assert response.status_code == 403


def test_members_see_settings_but_no_change_buttons(client):
    people = cast()
    client.force_login(people.users["member"])
    page = client.get(reverse("settings:team", args=[people.team.slug])).content.decode()
    assert "member" in page and "Add member" not in page and "Remove" not in page
