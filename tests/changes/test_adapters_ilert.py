"""The ilert deployment events adapter: every fixture, and the bodies it must refuse."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from changes.adapters import ilert
from changes.adapters.base import CanonicalChange
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "ilert"
ISO = "api_deployment_event_iso_timestamp"
EPOCH = "api_deployment_event_epoch_seconds"
DEPLOYED_AT = datetime(2026, 11, 20, 14, 18, tzinfo=UTC)


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return ilert.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


@pytest.mark.parametrize("body", [[], "deployed", 3, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, EPOCH)
    assert refused(ilert.to_canonical, body, headers).field_name == "body"


@pytest.mark.parametrize(
    "timestamp",
    [
        1795184280,
        1795184280000,
        "1795184280000",
        "2026-11-20T14:18:00Z",
        "2026-11-20T15:18:00.000+01:00",
    ],
)
def test_epoch_seconds_milliseconds_and_iso_timestamps_are_read(timestamp):
    assert convert(EPOCH, {"timestamp": timestamp}).occurred_at == DEPLOYED_AT


def test_without_a_timestamp_the_receive_time_is_used():
    assert convert(EPOCH, {"timestamp": REMOVED}).occurred_at is None


def test_the_minimal_event_is_a_succeeded_deployment_without_a_component():
    change = convert(EPOCH)
    assert (change.component, change.kind, change.outcome, change.idempotency_key) == (
        "",
        "deployment",
        "succeeded",
        "",
    )
    assert (change.summary, change.metadata, change.links) == (
        "Deployed pricing-engine 3.4.1 to production",
        {},
        (),
    )


def test_custom_details_fill_our_fields():
    change = convert(ISO)
    assert (change.component, change.environment, change.version, change.commit) == (
        "search-api",
        "production",
        "v1.31.0",
        "e0b7c3a91d5f",
    )
    assert change.metadata == {}


def test_a_component_key_wins_over_service_which_stays_metadata():
    details = {"component": "search", "service": "search-api", "commit_sha": "e0b7c3a"}
    change = convert(ISO, {"customDetails": details})
    assert (change.component, change.commit) == ("search", "e0b7c3a")
    assert change.metadata == {"service": "search-api"}


def test_custom_details_that_are_not_text_stay_metadata():
    change = convert(ISO, {"customDetails.version": {"app": "1.31.0"}, "customDetails.team": "x"})
    assert change.version == ""
    assert change.metadata == {"version": {"app": "1.31.0"}, "team": "x"}


def test_a_missing_summary_is_named():
    assert refused(convert, ISO, {"summary": REMOVED}).field_name == "summary"


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"summary": 3.4}, "summary", "Expected a string, got a number."),
        ({"summary": ""}, "summary", "This field may not be blank."),
        ({"summary": None}, "summary", "This field is required."),
        ({"timestamp": False}, "timestamp", "Expected a string or a number, got a boolean."),
        ({"timestamp": {"epoch": 1}}, "timestamp", "Expected a string or a number, got an object."),
        ({"timestamp": [1795184280]}, "timestamp", "Expected a string or a number, got a list."),
        ({"timestamp": "after lunch"}, "timestamp", None),
        ({"userEmail": ["lena@acme-shop.example"]}, "userEmail", None),
        ({"customDetails": "search-api"}, "customDetails", "Expected an object, got a string."),
        ({"customDetails.environment": "p" * 101}, "customDetails.environment", None),
        ({"links": "https://ci.acme-shop.example/"}, "links", None),
        ({"links": [["https://ci.acme-shop.example/"]]}, "links.0", None),
    ],
)
def test_a_field_of_the_wrong_type_is_named(changes, field_name, problem):
    invalid = refused(convert, ISO, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_unicode_summaries_are_kept():
    change = convert(EPOCH, {"summary": "Preis-Engine 3.4.1 ausgerollt — Größen ✅ 価格"})
    assert change.summary == "Preis-Engine 3.4.1 ausgerollt — Größen ✅ 価格"


def test_a_long_summary_is_cut_and_kept_whole_in_the_description():
    summary = "Deployed " + "ü" * 600
    change = convert(EPOCH, {"summary": summary})
    assert (len(change.summary), change.summary[-1], change.description) == (500, "…", summary)


def test_only_http_links_are_kept():
    links = [
        {"href": "javascript:alert(1)", "text": "Pipeline"},
        {"href": "JAVASCRIPT:alert(1)"},
        {"href": "http://ci.acme-shop.example/pipelines/5512", "text": "Pipeline 5512"},
    ]
    assert convert(ISO, {"links": links}).links == (
        {"href": "http://ci.acme-shop.example/pipelines/5512", "text": "Pipeline 5512"},
    )


def test_integration_keys_are_never_kept():
    details = {
        "integrationKey": "test-secret",
        "integration_key": "test-secret",
        "deploy": {"IntegrationKey": "test-secret", "stage": "canary"},
        "hooks": [{"routing_key": "test-secret", "name": "slack"}],
    }
    metadata = convert(ISO, {"customDetails": details}).metadata
    assert metadata == {"deploy": {"stage": "canary"}, "hooks": [{"name": "slack"}]}
    assert "test-secret" not in json.dumps(convert(ISO).metadata)
