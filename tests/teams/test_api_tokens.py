"""Personal API tokens: made on the profile page (shown once) or by `create_api_token`, with a
name, a scope (read: GET only; write) and an optional expiry; listed with when they were last
used; revoked by their owner or staff. Stored hashed; expired and revoked tokens are 401, a
read token's write is 403, through the real API."""

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from common.tokens import hash_token
from incidents.models import Incident
from teams.models import ApiToken, AuditEntry, Team
from teams.services import create_api_token
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema/?format=json"


def api(token: str) -> Client:
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token}"
    return client


def send(client: Client, method: str, url: str, body: Any = None) -> Any:
    return client.generic(method, url, json.dumps(body or {}), content_type="application/json")


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def create_on_the_profile(client: Client, **fields: str) -> str:
    """Create a token on the profile page; the clear token from the one page that shows it."""
    form = {"token-name": "ci", "token-scope": "read", "token-expires": "90"}
    form.update({f"token-{name}": value for name, value in fields.items()})
    response = client.post(reverse("api-token-create"), form)
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("profile") + "#api-tokens"
    page = client.get(reverse("profile")).content.decode()
    return page.split('id="shown-token" type="text" readonly value="')[1].split('"')[0]


# --- the command -----------------------------------------------------------------------------


def test_printed_token_authenticates_the_read_api_and_is_stored_hashed(client, capsys):
    user = UserFactory(username="alice")
    call_command("create_api_token", "alice")
    token = capsys.readouterr().out.strip()

    stored = ApiToken.objects.get(user=user)
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert (stored.scope, stored.expires_at) == ("read", None)  # the defaults
    response = client.get(SCHEMA, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None
    entry = AuditEntry.objects.get(target_type="API token")
    assert (entry.actor_name, entry.action, entry.details["owner"]) == (
        "create_api_token",
        "created",
        "alice",
    )


def test_the_command_takes_a_scope_and_days_to_expiry(capsys):
    user = UserFactory(username="alice")
    before = timezone.now()
    call_command("create_api_token", "alice", "--scope", "write", "--expires", "30", "--name", "ci")
    token = capsys.readouterr().out.strip()

    stored = ApiToken.objects.get(user=user)
    assert (stored.name, stored.scope, stored.token_hash) == ("ci", "write", hash_token(token))
    assert before + timedelta(days=30) <= stored.expires_at <= timezone.now() + timedelta(days=30)


def test_the_command_takes_a_date_to_expire_at(capsys):
    user = UserFactory(username="alice")
    day = timezone.now().date() + timedelta(days=400)
    call_command("create_api_token", "alice", "--expires", day.isoformat())

    assert ApiToken.objects.get(user=user).expires_at == datetime.combine(day, time.min, UTC)
    assert f"expires: {day.isoformat()}T00:00+00:00" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scope", "admin"], "invalid choice: 'admin'"),
        (["--expires", "soon"], "neither a number of days, a date"),
        (["--expires", "0"], "from 1 to"),
        (["--expires", "99999999"], "from 1 to"),
        (["--expires", (date.today() - timedelta(days=1)).isoformat()], "in the future"),  # noqa: DTZ011
    ],
)
def test_the_command_refuses_a_bad_scope_or_expiry(arguments, message):
    UserFactory(username="alice")
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", "alice", *arguments)
    assert not ApiToken.objects.exists()


def test_unknown_user_exits_2():
    with pytest.raises(CommandError, match="no user named 'ghost'") as raised:
        call_command("create_api_token", "ghost")
    assert raised.value.returncode == 2


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["Token wct_not-a-real-token", "Token", "Token a b", "Token \u00e9t\u00e9"]
)
def test_bad_tokens_get_401_in_the_error_shape(client, header):
    response = client.get(SCHEMA, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}


def test_no_token_no_session_is_refused(client):
    assert client.get(SCHEMA).status_code == 401


def test_an_expired_token_is_401_saying_so():
    api_token, token = create_api_token(
        user=UserFactory(), scope="write", expires_at=timezone.now() + timedelta(days=1)
    )
    assert api(token).get("/api/v1/teams").status_code == 200
    ApiToken.objects.filter(pk=api_token.pk).update(expires_at=timezone.now() - timedelta(1))

    response = api(token).get("/api/v1/teams")

    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["code"] == "token_expired"
    assert body["message"].startswith(f"This token ({api_token.token_prefix}…) expired at ")


def test_a_revoked_token_is_401():
    user = UserFactory(username="alice")
    client = logged_in(user)
    token = create_on_the_profile(client)
    assert api(token).get("/api/v1/teams").status_code == 200

    client.post(reverse("api-token-revoke", args=[ApiToken.objects.get(user=user).pk]))

    response = api(token).get("/api/v1/teams")
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "Invalid token: unknown or revoked.",
        "fields": {},
    }


def test_last_used_is_stamped_at_most_once_a_minute(django_assert_num_queries):
    api_token, token = create_api_token(user=UserFactory())
    client = api(token)
    assert ApiToken.objects.get(pk=api_token.pk).last_used_at is None

    with django_assert_num_queries(3):  # the token, its stamp, the teams
        client.get("/api/v1/teams")
    first = ApiToken.objects.get(pk=api_token.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(2):  # used a moment ago: no write
        client.get("/api/v1/teams")
    assert ApiToken.objects.get(pk=api_token.pk).last_used_at == first

    ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/teams")
    assert ApiToken.objects.get(pk=api_token.pk).last_used_at > first - timedelta(minutes=1)


# --- scopes, through the real API -------------------------------------------------------------


@pytest.fixture
def things() -> dict[str, Any]:
    """One of everything the API can change, in a team the token's user (staff) could change."""
    team = TeamFactory(slug="payments", name="Payments")
    member = MembershipFactory(team=team, user__username="bob")
    source = AlertSourceFactory(team=team)
    return {
        "team": team,
        "member": member.user.get_username(),
        "component": ComponentFactory(name="checkout", owner_team=team).slug,
        "pipeline": DeploymentPipelineFactory(team=team).pk,
        "source": source.pk,
        "incident": IncidentFactory(alert_source=source).pk,
    }


# Every write of the configuration and incidents APIs: (method, URL, body).
WRITES = [
    ("POST", "/api/v1/teams", {"slug": "new", "name": "New"}),
    ("PATCH", "/api/v1/teams/payments", {"name": "Renamed"}),
    ("DELETE", "/api/v1/teams/payments", None),
    ("POST", "/api/v1/teams/payments/members", {"user": "carol", "role": "member"}),
    ("PATCH", "/api/v1/teams/payments/members/{member}", {"role": "admin"}),
    ("DELETE", "/api/v1/teams/payments/members/{member}", None),
    ("POST", "/api/v1/components", {"name": "search"}),
    ("PATCH", "/api/v1/components/{component}", {"aliases": ["checkout-prod"]}),
    ("DELETE", "/api/v1/components/{component}", None),
    ("POST", "/api/v1/pipelines", {"name": "ci", "kind": "generic"}),
    ("PATCH", "/api/v1/pipelines/{pipeline}", {"enabled": False}),
    ("DELETE", "/api/v1/pipelines/{pipeline}", None),
    ("POST", "/api/v1/pipelines/{pipeline}/rotate-key", None),
    ("POST", "/api/v1/pipelines/{pipeline}/rotate-secret", None),
    ("POST", "/api/v1/alert-sources", {"name": "cw", "kind": "generic"}),
    ("PATCH", "/api/v1/alert-sources/{source}", {"enabled": False}),
    ("DELETE", "/api/v1/alert-sources/{source}", None),
    ("POST", "/api/v1/alert-sources/{source}/rotate-key", None),
    ("PUT", "/api/v1/incidents/{incident}", {"status": "resolved"}),
    ("PATCH", "/api/v1/incidents/{incident}", {"status": "acknowledged"}),
    ("POST", "/api/v1/incidents/{incident}/notes", {"text": "rolled back"}),
]
READS = [
    "/api/v1/teams",
    "/api/v1/teams/payments",
    "/api/v1/teams/payments/members",
    "/api/v1/components",
    "/api/v1/pipelines",
    "/api/v1/pipelines/{pipeline}",
    "/api/v1/pipelines/{pipeline}/deliveries",
    "/api/v1/alert-sources/{source}/deliveries",
    "/api/v1/incidents",
    "/api/v1/incidents/{incident}",
    "/api/v1/changes",
    "/api/v1/audit-log",
]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_a_read_token_is_refused_every_write_and_nothing_changes(things, method, url, body):
    _, token = create_api_token(user=UserFactory(username="root", is_staff=True), scope="read")
    before = AuditEntry.objects.count()

    response = send(api(token), method, url.format(**things), body)

    assert response.status_code == 403, response.content
    assert response.json() == {
        "code": "insufficient_scope",
        "message": f"This token has the read scope: {method} needs a token with the write scope.",
        "fields": {},
    }
    assert AuditEntry.objects.count() == before
    assert Team.objects.filter(slug="payments", name="Payments").exists()
    assert Incident.objects.get(pk=things["incident"]).status == "triggered"


@pytest.mark.parametrize("url", READS)
def test_a_read_token_reads(things, url):
    _, token = create_api_token(user=UserFactory(username="root", is_staff=True))
    response = api(token).get(url.format(**things))
    assert response.status_code == 200, response.content


def test_a_write_token_writes(things):
    _, token = create_api_token(user=UserFactory(username="root", is_staff=True), scope="write")
    client = api(token)
    assert send(client, "PATCH", "/api/v1/teams/payments", {"name": "Renamed"}).status_code == 200
    url = f"/api/v1/incidents/{things['incident']}"
    assert send(client, "PUT", url, {"status": "resolved"}).status_code == 200
    assert Team.objects.get(slug="payments").name == "Renamed"


def test_a_read_token_does_not_limit_the_session(things):
    """Scopes are the token's: the same person in the browser changes what they may."""
    staff = UserFactory(username="root", is_staff=True)
    create_api_token(user=staff)
    client = logged_in(staff)
    assert send(client, "PATCH", "/api/v1/teams/payments", {"name": "Renamed"}).status_code == 200


# --- the profile page ------------------------------------------------------------------------


def test_the_profile_page_creates_a_token_shown_once_that_works():
    user = UserFactory(username="alice")
    client = logged_in(user)

    token = create_on_the_profile(client, name="deploy script", scope="write", expires="30")

    stored = ApiToken.objects.get(user=user)
    assert (stored.name, stored.scope, stored.token_hash) == (
        "deploy script",
        "write",
        hash_token(token),
    )
    assert timedelta(days=29) < stored.expires_at - timezone.now() <= timedelta(days=30)
    again = client.get(reverse("profile")).content.decode()
    assert token not in again and 'id="shown-token"' not in again  # once only
    assert f"<code>{stored.token_prefix}…</code>" in again and "deploy script" in again
    assert api(token).get("/api/v1/teams").status_code == 200
    entry = AuditEntry.objects.get(target_type="API token", action="created")
    assert (entry.actor_name, entry.target_name, entry.details["scope"]) == (
        "alice",
        "deploy script",
        "write",
    )
    assert token not in json.dumps(entry.details)


def test_never_means_no_expiry():
    user = UserFactory(username="alice")
    create_on_the_profile(logged_in(user), expires="never")
    assert ApiToken.objects.get(user=user).expires_at is None


@pytest.mark.parametrize(
    "form",
    [
        {"token-name": "", "token-scope": "read", "token-expires": "90"},
        {"token-name": "ci", "token-scope": "admin", "token-expires": "90"},
        {"token-name": "ci", "token-scope": "read", "token-expires": "7"},
    ],
)
def test_a_bad_token_form_is_400_and_makes_nothing(form):
    client = logged_in(UserFactory())
    response = client.post(reverse("api-token-create"), form)
    assert response.status_code == 400
    assert 'class="error" role="alert"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_profile_lists_the_users_tokens_only(django_assert_num_queries):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    create_api_token(user=alice, name="alice-read")
    expired, _ = create_api_token(
        user=alice, name="alice-old", scope="write", expires_at=timezone.now() + timedelta(1)
    )
    ApiToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(days=1), last_used_at=timezone.now()
    )
    create_api_token(user=bob, name="bob-token")
    client = logged_in(alice)
    client.get(reverse("profile"))

    with django_assert_num_queries(4):  # session, user, profile, the tokens
        page = client.get(reverse("profile")).content.decode()

    assert "alice-read" in page and "alice-old" in page and "bob-token" not in page
    row = page.split(f'id="api-token-{expired.pk}"')[1].split("</tr>")[0]
    assert "write" in row and "expired" in row and "never" not in row
    assert "Everyone&#x27;s API tokens" not in page


def test_staff_see_everyones_tokens(django_assert_num_queries):
    staff = UserFactory(username="root", is_staff=True)
    for number in range(3):
        create_api_token(user=UserFactory(username=f"user{number}"), name=f"token-{number}")
    client = logged_in(staff)
    client.get(reverse("profile"))

    with django_assert_num_queries(5):  # session, user, profile, own tokens, everyone's
        page = client.get(reverse("profile")).content.decode()

    section = page.split('id="all-api-tokens"')[1]
    assert all(f"token-{number}" in section for number in range(3))
    assert "user2" in section


def test_the_owner_revokes_a_token_and_it_is_audited():
    user = UserFactory(username="alice")
    api_token, _ = create_api_token(user=user, name="ci")
    client = logged_in(user)

    response = client.post(reverse("api-token-revoke", args=[api_token.pk]))

    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=api_token.pk).exists()
    entry = AuditEntry.objects.get(action="revoked")
    assert (entry.actor_name, entry.target_type, entry.target_name) == ("alice", "API token", "ci")
    assert "Revoked the token ci." in client.get(reverse("profile")).content.decode()


def test_another_user_cannot_revoke_my_token():
    api_token, token = create_api_token(user=UserFactory(username="alice"))
    mallory = UserFactory(username="mallory")

    response = logged_in(mallory).post(reverse("api-token-revoke", args=[api_token.pk]))

    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=api_token.pk).exists()
    assert api(token).get("/api/v1/teams").status_code == 200
    assert not AuditEntry.objects.filter(action="revoked").exists()


def test_staff_revoke_anyones_token():
    api_token, token = create_api_token(user=UserFactory(username="alice"), name="ci")
    staff = UserFactory(username="root", is_staff=True)

    response = logged_in(staff).post(reverse("api-token-revoke", args=[api_token.pk]))

    assert response.status_code == 302
    assert api(token).get("/api/v1/teams").status_code == 401
    entry = AuditEntry.objects.get(action="revoked")
    assert (entry.actor_name, entry.details["owner"]) == ("root", "alice")


def test_revoking_needs_a_post_with_csrf_and_a_login():
    user = UserFactory(username="alice")
    api_token, _ = create_api_token(user=user)
    url = reverse("api-token-revoke", args=[api_token.pk])

    assert logged_in(user).get(url).status_code == 405
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post(url).status_code == 403
    assert Client().post(url).status_code == 302  # to the login page
    assert ApiToken.objects.filter(pk=api_token.pk).exists()


def test_the_revoke_button_asks_first():
    user = UserFactory(username="alice")
    api_token, _ = create_api_token(user=user, name="ci")
    page = logged_in(user).get(reverse("profile")).content.decode()
    assert (
        f'action="{reverse("api-token-revoke", args=[api_token.pk])}" '
        'data-confirm="Revoke the token ci? Scripts using it stop working at once."'
    ) in page
