"""The configuration API for teams, members, components and the audit log: the same rights as
Settings (teams.permissions), the service's audit entry after every change, the one error shape."""

import json
from typing import Any

import pytest
from django.test import Client

from common.tokens import generate_token
from teams.models import AuditEntry, Component, Membership, Team
from tests.teams.factories import (
    ApiTokenFactory,
    ComponentFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Who tries: a member of the team, an admin of another team, an admin of the team, staff.
ACTORS = ("member", "other_admin", "admin", "staff")
MAY_CHANGE = {"member": False, "other_admin": False, "admin": True, "staff": True}


class Api:
    """JSON over the real HTTP stack, authenticated by a personal API token (write scope)."""

    def __init__(self, user: Any = None) -> None:
        self.client = Client()
        if user is not None:
            token = generate_token("wct")
            ApiTokenFactory(user=user, scope="write", token=token)
            self.client.defaults["HTTP_AUTHORIZATION"] = f"Token {token}"

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(url, params)

    def post(self, url: str, body: Any = None) -> Any:
        return self.client.post(url, json.dumps(body or {}), content_type="application/json")

    def patch(self, url: str, body: Any) -> Any:
        return self.client.patch(url, json.dumps(body), content_type="application/json")

    def delete(self, url: str) -> Any:
        return self.client.delete(url)


def actor(role: str, team: Team) -> Any:
    """A user in `role` towards `team`."""
    if role == "staff":
        return UserFactory(username="root", is_staff=True)
    if role == "other_admin":
        elsewhere = TeamFactory(slug="elsewhere")
        return MembershipFactory(team=elsewhere, role="admin", user__username="otto").user
    return MembershipFactory(team=team, role=role, user__username=f"{role}-of-{team.slug}").user


def expect(response: Any, role: str, status: int) -> dict | None:
    """`status` for those who may change the team's things, 403 in the one shape for the rest."""
    if MAY_CHANGE[role]:
        assert response.status_code == status, response.content
        return response.json() if response.content else None
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    return None


def assert_error(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert field in body["fields"], body


def audit_entries(**filters: Any) -> list[tuple]:
    entries = AuditEntry.objects.filter(**filters).order_by("id")
    return list(entries.values_list("actor_name", "action", "target_type", "details"))


@pytest.fixture
def team():
    return TeamFactory(slug="payments", name="Payments")


# --- authentication ------------------------------------------------------------------------

READ_URLS = (
    "/api/v1/teams",
    "/api/v1/teams/payments",
    "/api/v1/teams/payments/members",
    "/api/v1/components",
    "/api/v1/audit-log",
)


@pytest.mark.parametrize("url", READ_URLS)
def test_reads_need_a_token_or_a_session(url, team):
    assert Api().get(url).status_code == 401
    assert Api().client.get(url, HTTP_AUTHORIZATION="Token wct_wrong").status_code == 401
    assert Api(UserFactory()).get(url).status_code == 200
    session = Client()
    session.force_login(UserFactory())
    assert session.get(url).status_code == 200


def test_writes_without_a_login_are_401(team):
    anonymous = Api()
    assert anonymous.post("/api/v1/teams", {"slug": "x", "name": "X"}).status_code == 401
    assert anonymous.patch("/api/v1/teams/payments", {"name": "X"}).status_code == 401
    assert anonymous.delete("/api/v1/teams/payments").status_code == 401
    assert anonymous.post("/api/v1/components", {"name": "x"}).status_code == 401
    assert Team.objects.get().name == "Payments"
    assert not AuditEntry.objects.exists()


def test_a_session_without_the_csrf_token_is_refused(team):
    staff = UserFactory(username="root", is_staff=True)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)

    refused = strict.post(
        "/api/v1/teams", json.dumps({"slug": "ops", "name": "Ops"}), content_type="application/json"
    )
    refused_patch = strict.patch(
        "/api/v1/teams/payments", json.dumps({"name": "X"}), content_type="application/json"
    )

    assert refused.status_code == refused_patch.status_code == 403
    assert "CSRF" in refused.json()["message"]
    assert list(Team.objects.values_list("slug", "name")) == [("payments", "Payments")]
    assert strict.get("/api/v1/teams").status_code == 200  # reads need no token
    # A token is not a cookie: scripts need no CSRF token.
    assert Api(staff).post("/api/v1/teams", {"slug": "ops", "name": "Ops"}).status_code == 201


# --- teams ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ACTORS)
def test_only_staff_create_teams(role, team):
    user = actor(role, team)
    response = Api(user).post("/api/v1/teams", {"slug": "billing", "name": "Billing"})

    if role == "staff":
        assert response.status_code == 201
        assert response.json() == {
            "slug": "billing",
            "name": "Billing",
            "member_count": 0,
            "created_at": response.json()["created_at"],
        }
        assert audit_entries() == [("root", "created", "team", {"slug": "billing"})]
    else:
        assert response.status_code == 403
        assert response.json()["message"] == "Only staff create teams."
        assert not Team.objects.filter(slug="billing").exists()
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
def test_renaming_a_team(role, team):
    user = actor(role, team)
    body = expect(Api(user).patch("/api/v1/teams/payments", {"name": "Pay & Bill"}), role, 200)

    team.refresh_from_db()
    if MAY_CHANGE[role]:
        assert body["name"] == team.name == "Pay & Bill"
        assert audit_entries(team=team) == [
            (user.username, "changed", "team", {"name": ["Payments", "Pay & Bill"]})
        ]
    else:
        assert team.name == "Payments"
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
def test_deleting_a_team_leaves_its_components_without_a_team(role, team):
    component = ComponentFactory(name="payments-service", owner_team=team)
    user = actor(role, team)

    expect(Api(user).delete("/api/v1/teams/payments"), role, 204)

    component.refresh_from_db()
    if MAY_CHANGE[role]:
        assert not Team.objects.filter(slug="payments").exists()
        assert component.owner_team is None
        assert audit_entries(target_type="team") == [(user.username, "deleted", "team", {})]
    else:
        assert component.owner_team == team
        assert not AuditEntry.objects.exists()


def test_team_bodies_are_checked(team):
    staff = Api(UserFactory(username="root", is_staff=True))

    assert_error(staff.post("/api/v1/teams", {"slug": "ops"}), 400, "name")
    assert_error(staff.post("/api/v1/teams", {"slug": "not a slug", "name": "X"}), 400, "slug")
    assert_error(staff.post("/api/v1/teams", {"slug": "payments", "name": "X"}), 400, "slug")
    assert_error(staff.patch("/api/v1/teams/payments", {"name": ""}), 400, "name")
    assert_error(staff.patch("/api/v1/teams/payments", {"slug": "pay"}), 400, "slug")
    assert list(Team.objects.values_list("slug", "name")) == [("payments", "Payments")]


def test_unknown_things_are_404_in_the_error_shape(team):
    staff = Api(UserFactory(username="root", is_staff=True))
    for response in (
        staff.get("/api/v1/teams/nope"),
        staff.patch("/api/v1/teams/nope", {"name": "X"}),
        staff.delete("/api/v1/teams/nope"),
        staff.get("/api/v1/teams/nope/members"),
        staff.post("/api/v1/teams/nope/members", {"user": "root", "role": "member"}),
        staff.patch("/api/v1/teams/payments/members/nobody", {"role": "admin"}),
        staff.delete("/api/v1/teams/payments/members/nobody"),
        staff.get("/api/v1/components/nope"),
        staff.patch("/api/v1/components/nope", {"name": "x"}),
        staff.delete("/api/v1/components/nope"),
    ):
        assert response.status_code == 404, response.request
        assert response.json()["code"] == "not_found"


# --- members -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ACTORS)
def test_adding_a_member_by_email_and_changing_their_role(role, team):
    newbie = UserFactory(username="newbie", email="newbie@example.com")
    user = actor(role, team)
    api = Api(user)

    added = expect(
        api.post(
            "/api/v1/teams/payments/members", {"user": "NEWBIE@example.com", "role": "member"}
        ),
        role,
        201,
    )
    again = expect(
        api.post("/api/v1/teams/payments/members", {"user": "newbie", "role": "admin"}), role, 200
    )

    membership = Membership.objects.filter(team=team, user=newbie).first()
    if MAY_CHANGE[role]:
        assert added["user"] == "newbie" and added["role"] == "member"
        assert again["role"] == membership.role == "admin"
        assert audit_entries(target_type="member") == [
            (user.username, "created", "member", {"user": "newbie", "role": "member"}),
            (user.username, "changed", "member", {"role": ["member", "admin"]}),
        ]
    else:
        assert membership is None
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
def test_changing_a_role(role, team):
    bob = MembershipFactory(team=team, user__username="bob").user
    user = actor(role, team)

    body = expect(
        Api(user).patch("/api/v1/teams/payments/members/bob", {"role": "admin"}), role, 200
    )

    membership = Membership.objects.get(team=team, user=bob)
    if MAY_CHANGE[role]:
        assert body == {"user": "bob", "role": "admin", "created_at": body["created_at"]}
        assert membership.role == "admin"
        assert audit_entries() == [
            (user.username, "changed", "member", {"role": ["member", "admin"]})
        ]
    else:
        assert membership.role == "member"
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
def test_removing_a_member(role, team):
    MembershipFactory(team=team, user__username="bob")
    user = actor(role, team)

    expect(Api(user).delete("/api/v1/teams/payments/members/bob"), role, 204)

    still_there = Membership.objects.filter(team=team, user__username="bob").exists()
    if MAY_CHANGE[role]:
        assert not still_there
        assert audit_entries() == [(user.username, "deleted", "member", {"user": "bob"})]
    else:
        assert still_there
        assert not AuditEntry.objects.exists()


def test_member_bodies_are_checked(team):
    admin = Api(actor("admin", team))
    members = "/api/v1/teams/payments/members"

    assert_error(admin.post(members, {"user": "ghost", "role": "member"}), 400, "user")
    assert_error(admin.post(members, {"user": "admin-of-payments", "role": "owner"}), 400, "role")
    assert_error(admin.post(members, {"role": "member"}), 400, "user")
    assert_error(admin.patch(f"{members}/admin-of-payments", {}), 400, "role")
    assert Membership.objects.get().role == "admin"


def test_the_last_admin_can_be_neither_demoted_nor_removed(team):
    admin = actor("admin", team)
    staff = Api(actor("staff", team))
    myself = "/api/v1/teams/payments/members/admin-of-payments"

    assert_error(Api(admin).patch(myself, {"role": "member"}), 400, "role")
    assert_error(Api(admin).delete(myself), 400, "role")
    assert_error(staff.delete(myself), 400, "role")  # staff too: the team would be unmanaged
    assert Membership.objects.get(team=team).role == "admin"
    assert not AuditEntry.objects.exists()

    MembershipFactory(team=team, role="admin", user__username="bob")
    assert Api(admin).delete(myself).status_code == 204  # another admin remains: free to go
    assert list(Membership.objects.values_list("user__username", "role")) == [("bob", "admin")]


def test_members_are_listed_by_username(team):
    for name in ("zoe", "adam"):
        MembershipFactory(team=team, user__username=name, role="member")
    rows = Api(UserFactory()).get("/api/v1/teams/payments/members").json()
    assert [(row["user"], row["role"]) for row in rows] == [("adam", "member"), ("zoe", "member")]
    teams = Api(UserFactory()).get("/api/v1/teams").json()
    assert [(row["slug"], row["member_count"]) for row in teams] == [("payments", 2)]


# --- components ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ACTORS)
def test_creating_a_component(role, team):
    ComponentFactory(name="postgres-main", owner_team=None)
    user = actor(role, team)
    body = {
        "name": "Payments-Service",
        "owner_team": "payments",
        "aliases": ["payments-prod", "payments"],
        "depends_on": ["Postgres-Main"],
    }

    created = expect(Api(user).post("/api/v1/components", body), role, 201)

    if MAY_CHANGE[role]:
        component = Component.objects.get(name="payments-service")
        assert created == {
            "slug": component.slug,
            "name": "payments-service",
            "owner_team": "payments",
            "aliases": ["payments", "payments-prod"],
            "depends_on": ["postgres-main"],
            "created_at": created["created_at"],
        }
        [(actor_name, action, target_type, details)] = audit_entries(team=team)
        assert (actor_name, action, target_type) == (user.username, "created", "component")
        assert details["aliases"] == [None, ["payments", "payments-prod"]]
    else:
        assert not Component.objects.filter(name="payments-service").exists()
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
def test_changing_a_component_keeps_what_the_body_leaves_out(role, team):
    component = ComponentFactory(name="payments-service", owner_team=team)
    component.aliases.create(name="payments-prod")
    user = actor(role, team)

    body = expect(
        Api(user).patch(f"/api/v1/components/{component.slug}", {"aliases": ["pay"]}), role, 200
    )

    aliases = sorted(component.aliases.values_list("name", flat=True))
    if MAY_CHANGE[role]:
        assert body["aliases"] == aliases == ["pay"]
        assert body["name"] == "payments-service" and body["owner_team"] == "payments"
        assert audit_entries() == [
            (user.username, "changed", "component", {"aliases": [["payments-prod"], ["pay"]]})
        ]
    else:
        assert aliases == ["payments-prod"]
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
def test_deleting_a_component(role, team):
    component = ComponentFactory(name="payments-service", owner_team=team)
    user = actor(role, team)

    expect(Api(user).delete(f"/api/v1/components/{component.slug}"), role, 204)

    if MAY_CHANGE[role]:
        assert not Component.objects.exists()
        assert audit_entries() == [(user.username, "deleted", "component", {})]
    else:
        assert Component.objects.exists()
        assert not AuditEntry.objects.exists()


def test_moving_a_component_needs_admin_rights_on_both_teams(team):
    billing = TeamFactory(slug="billing")
    component = ComponentFactory(name="payments-service", owner_team=team)
    admin = actor("admin", team)
    url = f"/api/v1/components/{component.slug}"

    assert Api(admin).patch(url, {"owner_team": "billing"}).status_code == 403
    assert Api(admin).patch(url, {"owner_team": None}).status_code == 403  # teamless: staff's
    component.refresh_from_db()
    assert component.owner_team == team

    MembershipFactory(team=billing, user=admin, role="admin")
    assert Api(admin).patch(url, {"owner_team": "billing"}).json()["owner_team"] == "billing"
    component.refresh_from_db()
    assert component.owner_team == billing


def test_components_without_a_team_are_staffs(team):
    admin = Api(actor("admin", team))
    teamless = ComponentFactory(name="postgres-main", owner_team=None)

    assert admin.post("/api/v1/components", {"name": "redis"}).status_code == 403
    assert admin.patch(f"/api/v1/components/{teamless.slug}", {"aliases": []}).status_code == 403
    assert admin.delete(f"/api/v1/components/{teamless.slug}").status_code == 403
    staff = Api(UserFactory(username="root", is_staff=True))
    assert staff.post("/api/v1/components", {"name": "redis"}).json()["owner_team"] is None


def test_component_bodies_are_checked(team):
    existing = ComponentFactory(name="billing-service", owner_team=team)
    existing.aliases.create(name="billing")
    admin = Api(actor("admin", team))

    def create(**fields: Any) -> Any:
        return admin.post(
            "/api/v1/components", {"name": "payments", "owner_team": "payments", **fields}
        )

    assert_error(admin.post("/api/v1/components", {"owner_team": "payments"}), 400, "name")
    assert_error(create(name="billing-service"), 400, "name")
    assert_error(create(aliases=["billing"]), 400, "aliases")
    assert_error(create(aliases="billing"), 400, "aliases")
    assert_error(create(depends_on=["nope"]), 400, "depends_on")
    assert_error(create(owner_team="nope"), 400, "owner_team")
    assert list(Component.objects.values_list("name", flat=True)) == ["billing-service"]


# --- audit log -----------------------------------------------------------------------------


def test_audit_log_is_newest_first_per_team_with_a_cursor(team):
    staff = UserFactory(username="root", is_staff=True)
    api = Api(staff)
    for number in range(7):
        api.post("/api/v1/components", {"name": f"service-{number}", "owner_team": "payments"})
    api.post("/api/v1/teams", {"slug": "billing", "name": "Billing"})

    seen, params = [], {"team": "payments", "limit": 3}
    while True:
        page = api.get("/api/v1/audit-log", **params).json()
        seen += [row["target_name"] for row in page["results"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]

    assert seen == [f"service-{number}" for number in reversed(range(7))]
    first = api.get("/api/v1/audit-log").json()["results"][0]
    assert first["target_name"] == "Billing" and first["team"] == "billing"
    assert (first["actor"], first["action"], first["target_type"]) == ("root", "created", "team")
    assert api.get("/api/v1/audit-log", team="nope").json()["results"] == []
    assert_error(api.get("/api/v1/audit-log", limit=0), 400, "limit")


# --- query counts --------------------------------------------------------------------------


def test_list_queries_do_not_grow_with_rows(team, django_assert_max_num_queries):
    reader = Api(UserFactory(username="reader"))
    reader.get("/api/v1/teams")  # the token's first use stamps last_used_at once
    for number in range(30):
        other = TeamFactory(slug=f"team-{number}")
        MembershipFactory(team=team, user__username=f"person-{number}")
        component = ComponentFactory(name=f"service-{number}", owner_team=other)
        component.aliases.create(name=f"alias-{number}")
        component.depends_on.add(ComponentFactory(name=f"database-{number}", owner_team=None))
        AuditEntry.objects.create(
            actor_name="root",
            action="created",
            target_type="team",
            target_name=other.name,
            team=other,
        )

    # The token lookup, then the rows (and the prefetches: aliases, dependencies).
    with django_assert_max_num_queries(2):
        assert len(reader.get("/api/v1/teams").json()) == 31
    with django_assert_max_num_queries(3):
        assert len(reader.get("/api/v1/teams/payments/members").json()) == 30
    with django_assert_max_num_queries(4):
        assert len(reader.get("/api/v1/components").json()) == 60
    with django_assert_max_num_queries(2):
        assert len(reader.get("/api/v1/audit-log", limit=200).json()["results"]) == 30
