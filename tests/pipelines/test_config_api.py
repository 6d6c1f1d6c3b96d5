"""The configuration API for pipelines and alert sources: the rights of Settings, the audit
entry after every change, and keys and secrets shown exactly once."""

import json
import urllib.request
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from common.tokens import hash_token
from pipelines.models import AlertSource, Delivery, DeploymentPipeline, SnsSubscription
from teams.models import AuditEntry, Team
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import MembershipFactory, TeamFactory, UserFactory
from tests.teams.test_config_api import (
    ACTORS,
    MAY_CHANGE,
    Api,
    actor,
    assert_error,
    audit_entries,
    expect,
)

pytestmark = pytest.mark.django_db

# URL word -> (model, factory, audit target type, a valid creation body)
RESOURCES = {
    "pipelines": (
        DeploymentPipeline,
        DeploymentPipelineFactory,
        "pipeline",
        {"name": "payments-github", "kind": "github", "team": "payments", "branches": ["main"]},
    ),
    "alert-sources": (
        AlertSource,
        AlertSourceFactory,
        "alert source",
        {
            "name": "cloudwatch-prod",
            "kind": "cloudwatch_sns",
            "team": "payments",
            "default_severity": "critical",
            "default_components": ["payments-service"],
            "window_minutes": 30,
            "quiet_period_minutes": 15,
            "auto_confirm_subscriptions": True,
        },
    ),
}
CHANGE = {"component": "payments-service", "description": "Deploy v1.2.3"}
# A kind whose producer signs its requests with the secret, per URL word (pipelines.kinds).
SIGNING_KIND = {"pipelines": "github", "alert-sources": "webhook"}


@pytest.fixture
def team():
    return TeamFactory(slug="payments", name="Payments")


def post_change(key: str) -> Any:
    """A change through the ingest API, authenticated by an integration key."""
    return Api().client.post(
        "/api/v1/changes",
        json.dumps(CHANGE),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def everything_readable(api: Any, word: str, pk: int) -> str:
    """Every read that could show a key or a secret, as one text."""
    urls = (
        f"/api/v1/{word}",
        f"/api/v1/{word}/{pk}",
        f"/api/v1/{word}/{pk}/deliveries",
        "/api/v1/audit-log",
    )
    texts = []
    for url in urls:
        response = api.get(url)
        assert response.status_code == 200, url
        texts.append(response.content.decode())
    return "\n".join(texts)


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize("word", RESOURCES)
def test_no_login_is_401_and_a_token_or_session_reads(word, team):
    _, factory, _, body = RESOURCES[word]
    integration = factory(team=team)
    for url in (
        f"/api/v1/{word}",
        f"/api/v1/{word}/{integration.pk}",
        f"/api/v1/{word}/{integration.pk}/deliveries",
    ):
        assert Api().get(url).status_code == 401
        assert Api(MembershipFactory(team=team).user).get(url).status_code == 200
    # The delivery log is its team's (tests/pipelines/test_delivery_visibility.py).
    assert Api(UserFactory()).get(f"/api/v1/{word}/{integration.pk}").status_code == 200
    assert Api(UserFactory()).get(f"/api/v1/{word}/{integration.pk}/deliveries").status_code == 403
    anonymous = Api()
    assert anonymous.post(f"/api/v1/{word}", body).status_code == 401
    assert anonymous.post(f"/api/v1/{word}/{integration.pk}/rotate-key").status_code == 401
    assert anonymous.delete(f"/api/v1/{word}/{integration.pk}").status_code == 401
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("word", RESOURCES)
def test_a_session_without_the_csrf_token_is_refused(word, team):
    model, factory, _, body = RESOURCES[word]
    integration = factory(team=team, key="the-old-key-0123456789")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory(username="root", is_staff=True))

    created = strict.post(f"/api/v1/{word}", json.dumps(body), content_type="application/json")
    rotated = strict.post(f"/api/v1/{word}/{integration.pk}/rotate-key")

    assert created.status_code == rotated.status_code == 403
    assert model.objects.count() == 1
    integration.refresh_from_db()
    assert integration.key_hash == hash_token("the-old-key-0123456789")


# --- create, change, delete, rotate: who may -----------------------------------------------


@pytest.mark.parametrize("role", ACTORS)
@pytest.mark.parametrize("word", RESOURCES)
def test_creating_shows_the_key_secret_and_url_once(word, role, team):
    model, _, target_type, body = RESOURCES[word]
    user = actor(role, team)
    api = Api(user)

    created = expect(api.post(f"/api/v1/{word}", body), role, 201)

    if not MAY_CHANGE[role]:
        assert not model.objects.exists()
        assert not AuditEntry.objects.exists()
        return
    integration = model.objects.get(name=body["name"])
    key, secret = created["key"], created["secret"]
    assert integration.key_hash == hash_token(key) and integration.secret == secret
    assert created["key_prefix"] == key[:8] == integration.key_prefix
    assert key in created["url"]  # both kinds take the key in the path
    for field, value in body.items():
        assert created[field] == value, field
    assert {"id", "enabled", "last_event_at", "created_at"} <= set(created)
    assert audit_entries(team=team)[0][:3] == (user.username, "created", target_type)

    readable = everything_readable(api, word, integration.pk)
    assert key not in readable and secret not in readable
    assert key[:8] in readable and "<integration-key>" in readable


@pytest.mark.parametrize("role", ACTORS)
@pytest.mark.parametrize("word", RESOURCES)
def test_changing_settings_and_disabling(word, role, team):
    _, factory, target_type, _ = RESOURCES[word]
    integration = factory(team=team, name="before", environments=[])
    user = actor(role, team)

    change = {"name": "after", "environments": ["production"], "enabled": False}

    body = expect(Api(user).patch(f"/api/v1/{word}/{integration.pk}", change), role, 200)

    integration.refresh_from_db()
    if MAY_CHANGE[role]:
        assert {field: body[field] for field in change} == change
        assert {field: getattr(integration, field) for field in change} == change
        changed = {"name": ["before", "after"], "environments": [[], ["production"]]}
        assert audit_entries() == [
            (user.username, "changed", target_type, changed),
            (user.username, "disabled", target_type, {}),
        ]
    else:
        assert (integration.name, integration.enabled) == ("before", True)
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
@pytest.mark.parametrize("word", RESOURCES)
def test_deleting(word, role, team):
    model, factory, target_type, _ = RESOURCES[word]
    integration = factory(team=team)
    user = actor(role, team)

    expect(Api(user).delete(f"/api/v1/{word}/{integration.pk}"), role, 204)

    if MAY_CHANGE[role]:
        assert not model.objects.exists()
        assert audit_entries() == [(user.username, "deleted", target_type, {})]
    else:
        assert model.objects.exists()
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
@pytest.mark.parametrize("word", RESOURCES)
def test_rotating_the_key(word, role, team):
    _, factory, target_type, body = RESOURCES[word]
    # Kinds whose producers take the key in the URL path (webhooks, SNS).
    integration = factory(team=team, key="the-old-key-0123456789", kind=body["kind"])
    user = actor(role, team)

    rotated = expect(Api(user).post(f"/api/v1/{word}/{integration.pk}/rotate-key"), role, 200)

    integration.refresh_from_db()
    if MAY_CHANGE[role]:
        assert set(rotated) == {"key", "url"} and rotated["key"] in rotated["url"]
        assert integration.key_hash == hash_token(rotated["key"])
        assert audit_entries() == [(user.username, "rotated", target_type, {})]
    else:
        assert integration.key_hash == hash_token("the-old-key-0123456789")
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("role", ACTORS)
@pytest.mark.parametrize("word", RESOURCES)
def test_rotating_the_secret(word, role, team):
    _, factory, target_type, _ = RESOURCES[word]
    integration = factory(team=team, kind=SIGNING_KIND[word], secret="the-old-secret")
    user = actor(role, team)

    body = expect(Api(user).post(f"/api/v1/{word}/{integration.pk}/rotate-secret"), role, 200)

    integration.refresh_from_db()
    if MAY_CHANGE[role]:
        assert set(body) == {"secret"} and integration.secret == body["secret"] != "the-old-secret"
        assert audit_entries() == [
            (user.username, "rotated", target_type, {"what": "signing secret"})
        ]
        assert body["secret"] not in everything_readable(Api(user), word, integration.pk)
    else:
        assert integration.secret == "the-old-secret"
        assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("word", RESOURCES)
def test_a_kind_that_never_signs_has_no_secret_to_rotate(word, team):
    _, factory, _, _ = RESOURCES[word]
    # (A generic pipeline may require a signature: pipelines.kinds.)
    kind = "jenkins" if word == "pipelines" else "generic"
    integration = factory(team=team, kind=kind, secret="the-old-secret")

    response = Api(actor("admin", team)).post(f"/api/v1/{word}/{integration.pk}/rotate-secret")

    assert response.status_code == 400
    assert "does not sign its requests" in response.json()["message"]
    integration.refresh_from_db()
    assert integration.secret == "the-old-secret" and not AuditEntry.objects.exists()


# --- keys: once, and rotation --------------------------------------------------------------


def test_a_rotated_key_stops_working_at_once_and_the_new_one_works(team):
    admin = Api(actor("admin", team))
    created = admin.post(
        "/api/v1/pipelines", {"name": "deploys", "kind": "generic", "team": "payments"}
    ).json()
    old_key = created["key"]
    assert post_change(old_key).status_code == 202
    assert created["url"].endswith("/api/v1/changes")  # a bearer-key kind: no key in the URL

    rotated = admin.post(f"/api/v1/pipelines/{created['id']}/rotate-key").json()

    assert post_change(old_key).status_code == 401
    assert post_change(rotated["key"]).status_code == 202
    readable = everything_readable(admin, "pipelines", created["id"])
    for secret in (old_key, rotated["key"], created["secret"]):
        assert secret not in readable
    deliveries = admin.get(f"/api/v1/pipelines/{created['id']}/deliveries").json()
    assert [row["status_code"] for row in deliveries] == [202, 202]  # a 401 has no pipeline


def test_deliveries_are_the_newest_hundred(team):
    pipeline = DeploymentPipelineFactory(team=team)
    now = timezone.now()
    Delivery.objects.bulk_create(
        Delivery(
            pipeline=pipeline,
            received_at=now - timezone.timedelta(seconds=number),
            event_type="push",
            status_code=202,
            outcome="accepted",
            size=2,
            payload="{}",
            object_id=number,
        )
        for number in range(120)
    )
    AlertSourceFactory(team=team)  # another integration's log is not shown

    member = MembershipFactory(team=team).user
    rows = Api(member).get(f"/api/v1/pipelines/{pipeline.pk}/deliveries").json()

    assert [row["object_id"] for row in rows] == list(range(100))
    assert set(rows[0]) == {
        "id",
        "received_at",
        "event_type",
        "status_code",
        "outcome",
        "reason",
        "size",
        "payload",
        "object_id",
    }


# --- who may move what ---------------------------------------------------------------------


@pytest.mark.parametrize("word", RESOURCES)
def test_moving_to_another_team_needs_admin_rights_on_both(word, team):
    _, factory, target_type, _ = RESOURCES[word]
    billing = TeamFactory(slug="billing", name="Billing")
    integration = factory(team=team)
    admin_user = actor("admin", team)
    admin = Api(admin_user)
    url = f"/api/v1/{word}/{integration.pk}"

    assert admin.patch(url, {"team": "billing"}).status_code == 403
    assert admin.patch(url, {"team": None}).status_code == 403  # teamless things are staff's
    integration.refresh_from_db()
    assert integration.team == team

    MembershipFactory(team=billing, user=admin_user, role="admin")
    assert admin.patch(url, {"team": "billing"}).json()["team"] == "billing"
    integration.refresh_from_db()
    assert integration.team == billing
    assert audit_entries() == [
        (admin_user.username, "changed", target_type, {"team": ["Payments", "Billing"]})
    ]


@pytest.mark.parametrize("word", RESOURCES)
def test_things_without_a_team_are_staffs(word, team):
    model, factory, _, body = RESOURCES[word]
    teamless = factory(team=None)
    admin = Api(actor("admin", team))
    without_team = {**body, "team": None}

    assert admin.post(f"/api/v1/{word}", without_team).status_code == 403
    assert (
        admin.post(f"/api/v1/{word}", {k: v for k, v in body.items() if k != "team"}).status_code
        == 403
    )
    assert admin.patch(f"/api/v1/{word}/{teamless.pk}", {"name": "mine"}).status_code == 403
    assert admin.post(f"/api/v1/{word}/{teamless.pk}/rotate-key").status_code == 403
    assert model.objects.count() == 1

    staff = Api(UserFactory(username="root", is_staff=True))
    created = staff.post(f"/api/v1/{word}", without_team)
    assert created.status_code == 201 and created.json()["team"] is None


# --- bad bodies and unknown things ---------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "change", "field"),
    [
        ("pipelines", {"kind": "bamboo"}, "kind"),
        ("pipelines", {"name": ""}, "name"),
        ("pipelines", {"name": "x" * 101}, "name"),
        ("pipelines", {"team": "nope"}, "team"),
        ("pipelines", {"branches": "main"}, "branches"),
        ("pipelines", {"enabled": "sometimes"}, "enabled"),
        ("alert-sources", {"kind": "github"}, "kind"),
        ("alert-sources", {"window_minutes": 0}, "window_minutes"),
        ("alert-sources", {"skew_minutes": -1}, "skew_minutes"),
        ("alert-sources", {"quiet_period_minutes": 7 * 24 * 60 + 1}, "quiet_period_minutes"),
        ("alert-sources", {"timestamp_tolerance_seconds": 0}, "timestamp_tolerance_seconds"),
        ("alert-sources", {"default_severity": "apocalyptic"}, "default_severity"),
        ("alert-sources", {"insufficient_data": "panic"}, "insufficient_data"),
        ("alert-sources", {"auto_confirm_subscriptions": "maybe"}, "auto_confirm_subscriptions"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(word, change, field, team):
    model, factory, _, body = RESOURCES[word]
    existing = factory(team=team, name="existing")
    admin = Api(actor("admin", team))

    assert_error(admin.post(f"/api/v1/{word}", {**body, **change}), 400, field)
    assert_error(admin.patch(f"/api/v1/{word}/{existing.pk}", change), 400, field)

    assert list(model.objects.values_list("name", flat=True)) == ["existing"]
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("word", RESOURCES)
def test_names_are_unique_and_required(word, team):
    model, factory, _, body = RESOURCES[word]
    factory(team=team, name="taken")
    other = factory(team=team, name="other")
    admin = Api(actor("admin", team))

    assert_error(admin.post(f"/api/v1/{word}", {**body, "name": "taken"}), 400, "name")
    assert_error(admin.patch(f"/api/v1/{word}/{other.pk}", {"name": "taken"}), 400, "name")
    assert_error(admin.post(f"/api/v1/{word}", {"kind": body["kind"]}), 400, "name")
    assert admin.patch(f"/api/v1/{word}/{other.pk}", {"name": "other"}).status_code == 200
    assert model.objects.count() == 2


@pytest.mark.parametrize("word", RESOURCES)
def test_unknown_ids_are_404(word, team):
    staff = Api(UserFactory(username="root", is_staff=True))
    for response in (
        staff.get(f"/api/v1/{word}/999999"),
        staff.patch(f"/api/v1/{word}/999999", {"name": "x"}),
        staff.delete(f"/api/v1/{word}/999999"),
        staff.post(f"/api/v1/{word}/999999/rotate-key"),
        staff.post(f"/api/v1/{word}/999999/rotate-secret"),
        staff.get(f"/api/v1/{word}/999999/deliveries"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


# --- query counts --------------------------------------------------------------------------


@pytest.mark.parametrize("word", RESOURCES)
def test_list_queries_do_not_grow_with_rows(word, team, django_assert_max_num_queries):
    _, factory, _, _ = RESOURCES[word]
    user = UserFactory(username="reader")
    reader = Api(user)
    reader.get(f"/api/v1/{word}")  # the token's first use stamps last_used_at once
    integrations = [factory(team=TeamFactory()) for _ in range(30)]
    MembershipFactory(team=integrations[0].team, user=user)  # may see its deliveries
    Delivery.objects.bulk_create(
        Delivery(
            **{"pipeline" if word == "pipelines" else "alert_source": integrations[0]},
            received_at=timezone.now(),
            status_code=202,
            outcome="accepted",
            size=2,
        )
        for _ in range(50)
    )

    with django_assert_max_num_queries(2):  # the token, the rows with their teams
        assert len(reader.get(f"/api/v1/{word}").json()) == 30
    # The token, the integration, the reader's membership, its deliveries.
    with django_assert_max_num_queries(4):
        assert len(reader.get(f"/api/v1/{word}/{integrations[0].pk}/deliveries").json()) == 50


# --- SNS subscriptions ---------------------------------------------------------------------


def pending_subscription(team: Team, url: str) -> SnsSubscription:
    return SnsSubscription.objects.create(
        alert_source=AlertSourceFactory(kind="cloudwatch_sns", team=team),
        topic_arn="arn:aws:sns:us-east-1:123456789012:alarms",
        subscribe_url=url,
        message_id="m-1",
        received_at=timezone.now(),
    )


def test_sns_subscriptions_are_listed_and_an_admin_confirms_them(team, monkeypatch):
    subscription = pending_subscription(
        team, "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"
    )
    source = subscription.alert_source
    visited = []

    class Answer:
        def __enter__(self) -> "Answer":
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self, size: int) -> bytes:
            return b"<ConfirmSubscriptionResponse/>"

    def fake_urlopen(url: str, timeout: float) -> Answer:  # the network, not our code
        visited.append(url)
        return Answer()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    base = f"/api/v1/alert-sources/{source.pk}/sns-subscriptions"
    listed = Api(UserFactory()).get(base).json()
    assert [(row["topic_arn"], row["confirmed_at"]) for row in listed] == [
        (subscription.topic_arn, None)
    ]
    member = Api(actor("member", team))
    assert member.post(f"{base}/{subscription.pk}/confirm").status_code == 403

    admin = Api(actor("admin", team))
    confirmed = admin.post(f"{base}/{subscription.pk}/confirm").json()

    assert visited == [subscription.subscribe_url]
    assert confirmed["confirmed_by"] == "admin-of-payments" and confirmed["confirmed_at"]
    other_source = AlertSourceFactory(team=team)
    other = f"/api/v1/alert-sources/{other_source.pk}/sns-subscriptions/{subscription.pk}/confirm"
    assert admin.post(other).status_code == 404


def test_a_subscribe_url_off_sns_is_never_visited(team, monkeypatch):
    subscription = pending_subscription(team, "https://127.0.0.1:9/internal-admin")
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda *args, **kwargs: pytest.fail("an off-SNS URL was visited")
    )
    staff = Api(UserFactory(username="root", is_staff=True))

    response = staff.post(
        f"/api/v1/alert-sources/{subscription.alert_source_id}/sns-subscriptions/"
        f"{subscription.pk}/confirm"
    )

    assert response.status_code == 502
    assert response.json()["code"] == "subscription_not_confirmed"
    subscription.refresh_from_db()
    assert subscription.confirmed_at is None


# --- the schema ----------------------------------------------------------------------------


def test_every_configuration_endpoint_is_in_the_schema(tmp_path):
    path = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(path),
    )
    schema = json.loads(path.read_text())
    for word in ("pipelines", "alert-sources"):
        for suffix in ("", "/{id}", "/{id}/rotate-key", "/{id}/rotate-secret", "/{id}/deliveries"):
            assert f"/api/v1/{word}{suffix}" in schema["paths"], word + suffix
    for path in (
        "/api/v1/teams",
        "/api/v1/teams/{slug}",
        "/api/v1/teams/{slug}/members",
        "/api/v1/teams/{slug}/members/{username}",
        "/api/v1/components",
        "/api/v1/components/{slug}",
        "/api/v1/audit-log",
    ):
        assert path in schema["paths"], path
    properties = schema["components"]["schemas"]["Pipeline"]["properties"]
    assert "key_prefix" in properties
    assert not {"key", "secret", "key_hash"} & set(properties)
