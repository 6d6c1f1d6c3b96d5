"""Flagsmith through the real endpoint: the key in the path, X-Flagsmith-Signature over the
exact bytes, retries of the same bytes, and deletions kept apart from the last edit."""

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.template.loader import render_to_string

from changes.models import ChangeEvent
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_raw
from tests.fixtures import load_fixture

pytestmark = pytest.mark.django_db

PRODUCER = "flagsmith"
SIGNATURE = "X-Flagsmith-Signature"


def fixture(name: str) -> dict[str, Any]:
    return load_fixture(PRODUCER, name)


def signed(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` serialised and signed as Flagsmith sends it: json.dumps(sort_keys=True) with its
    default separators and ASCII escapes."""
    raw = json.dumps(body, sort_keys=True)
    signature = hmac.new(KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()
    original = fixture(name)
    return {**original, "body": raw, "headers": {**original["headers"], SIGNATURE: signature}}


def body_of(name: str) -> dict[str, Any]:
    return json.loads(fixture(name)["body"])


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not ChangeEvent.objects.exists()


def test_a_flag_update_is_recorded_with_its_previous_and_new_state(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, fixture("flag_updated"))

    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "recorded"}
    assert change.pipeline == pipeline
    assert change.summary == "Turned on inventory_cache_reads in Production"
    assert change.description.startswith("Enabled: off → on")


def test_a_wrong_signature_is_refused(client):
    pipeline_for(PRODUCER)
    original = fixture("flag_updated")
    wrong = hmac.new(b"wrong-secret", original["body"].encode(), hashlib.sha256).hexdigest()
    forged = {**original, "headers": {**original["headers"], SIGNATURE: wrong}}
    assert_refused(post_fixture(client, PRODUCER, forged), 401, "bad_signature")
    assert Delivery.objects.get().outcome == "rejected"


def test_a_missing_signature_is_refused(client):
    pipeline_for(PRODUCER)
    original = fixture("flag_updated")
    headers = {name: value for name, value in original["headers"].items() if name != SIGNATURE}
    assert_refused(
        post_fixture(client, PRODUCER, {**original, "headers": headers}), 401, "signature_required"
    )


def test_a_body_changed_after_signing_is_refused(client):
    pipeline_for(PRODUCER)
    original = fixture("flag_updated")
    tampered = {
        **original,
        "body": original["body"].replace('"enabled": true', '"enabled": false', 1),
    }
    assert_refused(post_fixture(client, PRODUCER, tampered), 401, "bad_signature")


def test_a_wrong_key_in_the_path_is_refused(client):
    pipeline_for(PRODUCER)
    original = fixture("flag_updated")
    response = post_raw(
        client, "/api/v1/pipelines/not-the-key/events", original["body"], original["headers"]
    )
    assert_refused(response, 401, "unknown_key")


@pytest.mark.parametrize("name", ["flag_updated", "flag_deleted"])
def test_a_retry_of_the_same_bytes_is_a_duplicate(client, name):
    # Flagsmith sends no delivery id: the feature state and the edit's time say it is the same.
    pipeline_for(PRODUCER)
    first = post_fixture(client, PRODUCER, fixture(name))
    retry = post_fixture(client, PRODUCER, fixture(name))

    assert retry.status_code == 202
    assert retry.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.count() == 1


def test_two_edits_of_one_flag_are_two_changes(client):
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture("flag_updated"))
    turned_off = body_of("flag_updated")
    data = turned_off["data"]
    data["previous_state"], data["new_state"] = data["new_state"], data["previous_state"]
    data["timestamp"] = "2026-11-20T14:19:02.004511Z"
    response = post_fixture(client, PRODUCER, signed("flag_updated", turned_off))

    assert response.json()["status"] == "recorded"
    assert list(ChangeEvent.objects.order_by("occurred_at").values_list("summary", flat=True)) == [
        "Turned on inventory_cache_reads in Production",
        "Turned off inventory_cache_reads in Production",
    ]


@pytest.mark.parametrize("order", [("update", "delete"), ("delete", "update")])
def test_a_deletion_is_not_merged_into_the_edit_it_carries_the_time_of(client, order):
    # Quirk: FLAG_DELETED carries the last edit's changed_by and timestamp.
    pipeline_for(PRODUCER)
    last_edit = body_of("flag_deleted")
    last_edit["event_type"] = "FLAG_UPDATED"
    last_edit["data"]["new_state"] = last_edit["data"].pop("previous_state")
    requests = {"update": signed("flag_updated", last_edit), "delete": fixture("flag_deleted")}
    statuses = [post_fixture(client, PRODUCER, requests[step]).json()["status"] for step in order]

    assert statuses == ["recorded", "recorded"]
    deleted = ChangeEvent.objects.get(summary__startswith="Deleted")
    assert deleted.triggered_by == ""
    assert deleted.occurred_at == deleted.received_at  # not the last edit's time
    last = ChangeEvent.objects.exclude(pk=deleted.pk).get()
    assert last.triggered_by == "tberg@acme-shop.example"


def test_an_identity_override_is_ignored_with_a_reason(client):
    pipeline_for(PRODUCER)
    override = body_of("flag_updated")
    for state in ("new_state", "previous_state"):
        override["data"][state].update(identity=4411, identity_identifier="user-42")
    response = post_fixture(client, PRODUCER, signed("flag_updated", override))

    reason = "identity override of inventory_cache_reads for user-42: changes one user"
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": reason}
    assert not ChangeEvent.objects.exists()
    assert Delivery.objects.get().reason == reason


def test_an_organisation_audit_log_event_is_ignored(client):
    pipeline_for(PRODUCER)
    audit = {
        "data": {"log": "New Flag / Remote Config created: my_feature", "environment": None},
        "event_type": "AUDIT_LOG_CREATED",
    }
    response = post_fixture(client, PRODUCER, signed("flag_updated", audit))
    assert response.json() == {
        "status": "ignored",
        "reason": "event type not used: AUDIT_LOG_CREATED",
    }


def test_a_body_without_its_new_state_is_refused_naming_it(client):
    pipeline_for(PRODUCER)
    broken = body_of("flag_updated")
    del broken["data"]["new_state"]
    response = post_fixture(client, PRODUCER, signed("flag_updated", broken))
    assert response.status_code == 400
    assert "data.new_state" in response.json()["fields"]


def test_unicode_sent_as_ascii_escapes_is_kept(client):
    # Flagsmith's json.dumps escapes non-ASCII: the signature covers the escaped bytes.
    pipeline_for(PRODUCER)
    body = body_of("flag_updated")
    body["data"]["changed_by"] = "zoë@acme-shop.example"
    body["data"]["new_state"]["feature"]["name"] = "kasse_neu_ü"
    request = signed("flag_updated", body)
    assert "\\u00eb" in request["body"]
    post_fixture(client, PRODUCER, request)

    change = ChangeEvent.objects.get()
    assert (change.triggered_by, change.version) == ("zoë@acme-shop.example", "kasse_neu_ü")


def test_the_setup_snippet_is_prefilled_and_escaped():
    url = "https://wc.example.com/api/v1/pipelines/k<&>/events"
    html = render_to_string(
        "pipelines/snippets/pipelines-flagsmith.html", {"url": url, "secret": 's3cret"x'}
    )
    assert "https://wc.example.com/api/v1/pipelines/k&lt;&amp;&gt;/events" in html
    assert "s3cret&quot;x" in html and "<&>" not in html
    without_secret = render_to_string("pipelines/snippets/pipelines-flagsmith.html", {"url": url})
    assert "rotate it to see a new one" in without_secret
