"""LaunchDarkly through the real endpoint: the key in the path, X-LD-Signature over the exact
bytes, LaunchDarkly's one retry, out-of-order deliveries and the entries it skips."""

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.template.loader import render_to_string

from changes.models import ChangeEvent
from common.times import parse_timestamp
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_fixture, post_raw
from tests.fixtures import load_fixture
from tests.teams.factories import ComponentFactory

pytestmark = pytest.mark.django_db

PRODUCER = "launchdarkly"
SIGNATURE = "X-LD-Signature"


def fixture(name: str) -> dict[str, Any]:
    return load_fixture(PRODUCER, name)


def signed(name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The fixture with top-level fields changed, re-serialised and signed as LaunchDarkly does."""
    original = fixture(name)
    body = json.dumps({**json.loads(original["body"]), **changes}, separators=(",", ":"))
    signature = hmac.new(KEY.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {**original, "body": body, "headers": {**original["headers"], SIGNATURE: signature}}


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not ChangeEvent.objects.exists()


def test_a_flag_change_is_recorded_with_what_happened(client):
    pipeline = pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, fixture("flag_turned_on"))

    change = ChangeEvent.objects.get()
    assert response.json() == {"id": change.pk, "status": "recorded"}
    assert change.pipeline == pipeline
    assert change.summary == "Turned on new-checkout-flow in production"
    assert "Targeting: off → on" in change.description
    assert change.links == [
        {
            "href": "https://app.launchdarkly.com/default/production/features/new-checkout-flow",
            "text": "Flag in LaunchDarkly",
        }
    ]


def test_a_bad_signature_is_refused_and_logged(client):
    pipeline_for(PRODUCER)
    assert_refused(post_fixture(client, PRODUCER, fixture("bad_signature")), 401, "bad_signature")
    assert Delivery.objects.get().outcome == "rejected"


def test_a_missing_signature_is_refused(client):
    pipeline_for(PRODUCER)
    original = fixture("flag_turned_on")
    unsigned = {**original, "headers": {"Content-Type": "application/json"}}
    assert_refused(post_fixture(client, PRODUCER, unsigned), 401, "signature_required")


def test_a_body_changed_after_signing_is_refused(client):
    pipeline_for(PRODUCER)
    original = fixture("flag_turned_on")
    tampered = {**original, "body": original["body"].replace("mkowalski@", "mallory@")}
    assert_refused(post_fixture(client, PRODUCER, tampered), 401, "bad_signature")


def test_a_wrong_key_in_the_path_is_refused(client):
    pipeline_for(PRODUCER)
    original = fixture("flag_turned_on")
    response = post_raw(
        client, "/api/v1/pipelines/not-the-key/events", original["body"], original["headers"]
    )
    assert_refused(response, 401, "unknown_key")


def test_launchdarklys_retry_is_a_duplicate(client):
    pipeline_for(PRODUCER)
    first = post_fixture(client, PRODUCER, fixture("flag_turned_on"))
    retry = post_fixture(client, PRODUCER, fixture("flag_turned_on"))

    assert retry.status_code == 202
    assert retry.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.count() == 1
    assert Delivery.objects.filter(object_id=first.json()["id"]).count() == 2


def test_out_of_order_deliveries_keep_each_entrys_own_time(client):
    # Quirk: the targeting change (13:58) is delivered after the flag was turned on (14:01).
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture("flag_turned_on"))
    post_fixture(client, PRODUCER, fixture("flag_targeting_changed"))

    changes = list(ChangeEvent.objects.order_by("occurred_at"))
    assert [change.version for change in changes] == ["search-ranking-v2", "new-checkout-flow"]
    assert changes[0].occurred_at == parse_timestamp("2026-11-20T13:58:41.902Z")
    assert changes[1].occurred_at == parse_timestamp("2026-11-20T14:01:05.114Z")


def test_every_entry_about_the_same_flag_is_a_change_of_its_own(client):
    pipeline_for(PRODUCER)
    on = post_fixture(client, PRODUCER, fixture("flag_turned_on"))
    later_off = signed(
        "flag_turned_on",
        {
            "_id": "6731f9a0c4d2e81b7a3f5e12",
            "date": 1795185000000,
            "titleVerb": "turned off the flag",
            "previousVersion": None,
            "currentVersion": None,
        },
    )
    off = post_fixture(client, PRODUCER, later_off)

    assert on.json()["status"] == off.json()["status"] == "recorded"
    assert on.json()["id"] != off.json()["id"]
    assert list(ChangeEvent.objects.order_by("occurred_at").values_list("summary", flat=True)) == [
        "Turned on new-checkout-flow in production",
        "Turned off new-checkout-flow in production",
    ]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"kind": "member"}, "kind member: not a flag change"),
        (
            {"accesses": [{"action": "updateTags", "resource": "proj/default:flag/x"}]},
            "flag action not recorded: updateTags",
        ),
    ],
)
def test_entries_that_change_nothing_served_are_ignored_with_a_reason(client, changes, reason):
    pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, signed("flag_turned_on", changes))

    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": reason}
    assert not ChangeEvent.objects.exists()
    assert (Delivery.objects.get().outcome, Delivery.objects.get().reason) == ("ignored", reason)


def test_a_plain_tag_resolves_to_its_catalog_component(client):
    component = ComponentFactory(name="search-api")
    pipeline_for(PRODUCER)
    post_fixture(client, PRODUCER, fixture("flag_targeting_changed"))
    assert ChangeEvent.objects.get().resolved_component == component


def test_an_invalid_entry_is_refused_naming_the_field(client):
    pipeline_for(PRODUCER)
    response = post_fixture(client, PRODUCER, signed("flag_turned_on", {"accesses": []}))
    assert response.status_code == 400
    assert "accesses" in response.json()["fields"]
    assert not ChangeEvent.objects.exists()


def test_unicode_is_kept(client):
    pipeline_for(PRODUCER)
    changes = {
        "comment": "Für alle freigeschaltet ✅",
        "member": {"email": "zoë@acme-shop.example"},
    }
    post_fixture(client, PRODUCER, signed("flag_turned_on", changes))

    change = ChangeEvent.objects.get()
    assert change.triggered_by == "zoë@acme-shop.example"
    assert change.description.endswith("Comment: Für alle freigeschaltet ✅")


def test_the_setup_snippet_is_prefilled_and_escaped():
    url = "https://wc.example.com/api/v1/pipelines/k<&>/events"
    html = render_to_string(
        "pipelines/snippets/pipelines-launchdarkly.html", {"url": url, "secret": 's3cret"x'}
    )
    assert "https://wc.example.com/api/v1/pipelines/k&lt;&amp;&gt;/events" in html
    assert "s3cret&quot;x" in html and "<&>" not in html
    without_secret = render_to_string(
        "pipelines/snippets/pipelines-launchdarkly.html", {"url": url}
    )
    assert "rotate it to see a new one" in without_secret
