"""Unleash through the real endpoint: the key as `Authorization: Bearer` (Unleash signs
nothing), its one retry, events in any order, and the events it skips."""

import json
from typing import Any

import pytest
from django.template.loader import render_to_string

from changes.models import ChangeEvent
from common.times import parse_timestamp
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_raw
from tests.fixtures import load_fixture

pytestmark = pytest.mark.django_db

PRODUCER = "unleash"


def fixture(name: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fixture, with top-level fields changed and re-serialised (nothing signs it)."""
    original = load_fixture(PRODUCER, name)
    if not changes:
        return original
    return {**original, "body": json.dumps({**json.loads(original["body"]), **changes})}


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not ChangeEvent.objects.exists()


def test_an_enabled_flag_is_recorded(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, fixture("feature_environment_enabled"))

    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "recorded"}
    assert change.pipeline == pipeline
    assert change.summary == "Turned on payments.retry-on-timeout in production"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-the-key", f"Basic {KEY}", "test-secret"]
)
def test_a_missing_or_wrong_authorization_is_refused(client, authorization):
    pipeline_for(PRODUCER)
    original = fixture("feature_environment_enabled")
    headers = {"content-type": "application/json"}
    if authorization:
        headers["authorization"] = authorization
    response = post_raw(client, "/api/v1/changes", original["body"], headers)
    assert_refused(response, 401, "unknown_key")


def test_the_key_in_the_path_works_too(client):
    pipeline_for(PRODUCER)
    original = fixture("feature_environment_enabled")
    headers = {"content-type": "application/json"}
    wrong = post_raw(client, "/api/v1/pipelines/not-the-key/events", original["body"], headers)
    assert_refused(wrong, 401, "unknown_key")
    right = post_raw(client, f"/api/v1/pipelines/{KEY}/events", original["body"], headers)
    assert right.status_code == 202
    assert ChangeEvent.objects.get().version == "payments.retry-on-timeout"


def test_unleashs_retry_is_a_duplicate(client):
    pipeline_for(PRODUCER)
    first = post_fixture(client, PRODUCER, fixture("feature_strategy_updated"))
    retry = post_fixture(client, PRODUCER, fixture("feature_strategy_updated"))

    assert retry.status_code == 202
    assert retry.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.count() == 1


def test_events_in_any_order_keep_their_own_times(client):
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture("feature_strategy_updated"))  # 14:22
    post_fixture(client, PRODUCER, fixture("feature_environment_enabled"))  # 14:18

    changes = list(ChangeEvent.objects.order_by("occurred_at"))
    assert [change.idempotency_key for change in changes] == ["48213", "48227"]
    assert changes[0].occurred_at == parse_timestamp("2026-11-20T14:18:42.137Z")


def test_enabling_then_disabling_a_flag_are_two_changes(client):
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture("feature_environment_enabled"))
    disabled = fixture(
        "feature_environment_enabled",
        {
            "id": 48290,
            "type": "feature-environment-disabled",
            "createdAt": "2026-11-20T14:29:00.000Z",
        },
    )
    response = post_fixture(client, PRODUCER, disabled)

    assert response.json()["status"] == "recorded"
    assert list(ChangeEvent.objects.order_by("occurred_at").values_list("summary", flat=True)) == [
        "Turned on payments.retry-on-timeout in production",
        "Turned off payments.retry-on-timeout in production",
    ]


@pytest.mark.parametrize(
    ("name", "changes", "reason"),
    [
        (
            "feature_created_ignored",
            None,
            "feature-created: no environment is affected until the flag is enabled",
        ),
        (
            "feature_created_ignored",
            {"type": "feature-tagged"},
            "feature-tagged: event type not recorded",
        ),
    ],
)
def test_events_that_change_no_environment_are_ignored_with_a_reason(client, name, changes, reason):
    pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, fixture(name, changes))

    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": reason}
    assert not ChangeEvent.objects.exists()
    assert (Delivery.objects.get().outcome, Delivery.objects.get().reason) == ("ignored", reason)


def test_an_event_without_a_flag_name_is_refused_naming_it(client):
    pipeline_for(PRODUCER)
    response = post_fixture(
        client, PRODUCER, fixture("feature_environment_enabled", {"featureName": None})
    )
    assert response.status_code == 400
    assert "featureName" in response.json()["fields"]


def test_unicode_is_kept(client):
    pipeline_for(PRODUCER)
    changes = {"featureName": "kasse.neu-ü", "createdBy": "zoë", "environment": "prød"}
    post_fixture(client, PRODUCER, fixture("feature_environment_enabled", changes))

    change = ChangeEvent.objects.get()
    assert (change.version, change.triggered_by, change.environment) == (
        "kasse.neu-ü",
        "zoë",
        "prød",
    )
    assert change.summary == "Turned on kasse.neu-ü in prød"


def test_the_setup_snippet_has_the_bearer_key_and_is_escaped():
    context = {"url": "https://wc.example.com/api/v1/changes?<&>", "key": "wck_abc<1>"}
    html = render_to_string("pipelines/snippets/pipelines-unleash.html", context)
    assert "https://wc.example.com/api/v1/changes?&lt;&amp;&gt;" in html
    assert "Bearer wck_abc&lt;1&gt;" in html and "<1>" not in html
    assert "feature-strategy-update" in html
    without_key = render_to_string("pipelines/snippets/pipelines-unleash.html", {"url": "u"})
    assert "Bearer &lt;integration key&gt;" in without_key
