"""The PagerDuty Events v2 adapter: every fixture, and what PagerDuty itself would refuse."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from incidents.adapters import pagerduty
from incidents.adapters.base import TITLE_LENGTH, AlertAction, CanonicalAlert
from tests.adapters import ALERT_ACTIONS, REMOVED, fixture_request, refused
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "pagerduty_events"
TRIGGER = "01_trigger"
ACKNOWLEDGE = "02_acknowledge"
RESOLVE = "03_resolve"


def convert(changes: dict[str, Any] | None = None, name: str = TRIGGER) -> CanonicalAlert:
    (alert,) = pagerduty.to_alerts(*fixture_request(PRODUCER, name, changes))
    return alert


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    expect = fixture["expect"]
    alert = convert(name=name)
    assert alert.action == ALERT_ACTIONS[expect["action"]]
    assert alert.alias == expect["alias"]
    if alert.action == AlertAction.TRIGGER:
        assert alert.title == expect["title"]
        assert alert.severity == expect["severity"]
        assert alert.components == tuple(expect["components"])
    else:
        # An acknowledge or resolve carries only the dedup_key: the incident keeps what the
        # trigger gave it, which is what `expect` shows.
        assert (alert.title, alert.severity, alert.components) == ("", "", ())


@pytest.mark.parametrize("body", [[], "trigger", 2, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    invalid = refused(pagerduty.to_alerts, body, CaseInsensitiveMapping({}))
    assert invalid.field_name == "body"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "critical"), ("error", "high"), ("warning", "medium"), ("info", "info")],
)
def test_pagerdutys_severities_are_mapped(severity, expected):
    assert convert({"payload.severity": severity}).severity == expected


@pytest.mark.parametrize(
    ("severity", "problem"),
    [
        ("high", "Expected critical, error, warning or info."),
        ("fatal", "Expected critical, error, warning or info."),
        (3, "Expected a string, got a number."),
        (REMOVED, "This field is required."),
        ("", "This field may not be blank."),
    ],
)
def test_any_other_severity_is_refused_as_pagerduty_does(severity, problem):
    invalid = refused(convert, {"payload.severity": severity})
    assert invalid.fields == {"payload.severity": [problem]}


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"payload": REMOVED}, "payload", "This field is required."),
        ({"payload": "orders-db lag"}, "payload", "Expected an object, got a string."),
        ({"payload.summary": REMOVED}, "payload.summary", "This field is required."),
        ({"payload.summary": " "}, "payload.summary", "This field may not be blank."),
        ({"payload.summary": 30}, "payload.summary", "Expected a string, got a number."),
        ({"payload.source": REMOVED}, "payload.source", "This field is required."),
        ({"payload.source": ["db-2"]}, "payload.source", None),
        ({"payload.timestamp": "recently"}, "payload.timestamp", None),
        ({"payload.component": {"name": "orders-db"}}, "payload.component", None),
        ({"payload.custom_details": ["lag"]}, "payload.custom_details", None),
        ({"event_action": REMOVED}, "event_action", "This field is required."),
        ({"event_action": "escalate"}, "event_action", None),
        ({"event_action": 1}, "event_action", "Expected a string, got a number."),
        ({"dedup_key": "k" * 256}, "dedup_key", None),
        ({"dedup_key": {"key": "orders-db"}}, "dedup_key", None),
        ({"links": {"href": "https://grafana.example.com/"}}, "links", None),
        ({"links": [7]}, "links.0", None),
        ({"client_url": ["https://prometheus.example.internal/"]}, "client_url", None),
    ],
)
def test_a_bad_trigger_field_is_named(changes, field_name, problem):
    invalid = refused(convert, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


@pytest.mark.parametrize("name", [ACKNOWLEDGE, RESOLVE])
def test_an_acknowledge_or_resolve_needs_its_dedup_key(name):
    assert refused(convert, {"dedup_key": REMOVED}, name).field_name == "dedup_key"
    assert refused(convert, {"dedup_key": ""}, name).field_name == "dedup_key"


@pytest.mark.parametrize(
    ("name", "event_type"), [(ACKNOWLEDGE, "acknowledge"), (RESOLVE, "resolve")]
)
def test_an_acknowledge_or_resolve_reads_nothing_but_the_dedup_key(name, event_type):
    alert = convert({"payload": {"summary": 5, "severity": "urgent"}}, name)
    assert (alert.alias, alert.event_type) == ("orders-db/replica-lag", event_type)
    assert (alert.links, alert.details, alert.occurred_at) == ((), {}, None)


def test_a_trigger_without_dedup_key_is_a_new_alert_each_time():
    first = convert({"dedup_key": REMOVED})
    second = convert({"dedup_key": ""})
    assert len(first.alias) == 32
    assert set(first.alias) <= set("0123456789abcdef")
    assert first.alias != second.alias


def test_the_dedup_key_is_the_alias_and_not_an_idempotency_key():
    alert = convert()
    assert (alert.alias, alert.idempotency_key, alert.event_type) == (
        "orders-db/replica-lag",
        "",
        "trigger",
    )


def test_pagerdutys_colonless_offset_is_read():
    assert convert().occurred_at == datetime(2026, 11, 20, 14, 9, 27, 512000, tzinfo=UTC)
    assert convert({"payload.timestamp": REMOVED}).occurred_at is None


def test_a_summary_over_pagerdutys_limit_is_refused():
    invalid = refused(convert, {"payload.summary": "x" * 1025})
    assert invalid.fields == {
        "payload.summary": ["Ensure this field has no more than 1024 characters."]
    }


def test_a_summary_too_long_for_us_is_cut_and_kept_whole_in_the_description():
    summary = "Réplica " + "é" * 1000
    alert = convert({"payload.summary": summary})
    assert (len(alert.title), alert.title[-1]) == (TITLE_LENGTH, "…")
    assert alert.description == summary


def test_unicode_summaries_are_kept_whole():
    summary = "Bestell-DB: Replikationsverzögerung ↑ 47 s 🔥"
    alert = convert({"payload.summary": summary})
    assert (alert.title, alert.description) == (summary, "")


def test_without_a_component_the_components_are_the_defaults():
    assert convert({"payload.component": REMOVED}).components == ()


def test_links_are_the_links_then_the_client():
    assert convert().links == (
        {"href": "https://grafana.example.com/d/orders-db?orgId=1", "text": "orders-db dashboard"},
        {
            "href": "https://prometheus.example.internal/alerts",
            "text": "Prometheus replication check",
        },
    )
    unnamed = convert({"client": REMOVED, "links": REMOVED})
    assert unnamed.links == (
        {"href": "https://prometheus.example.internal/alerts", "text": "Client"},
    )


def test_only_http_links_are_kept():
    alert = convert(
        {
            "links": [{"href": "javascript:alert(1)", "text": "Dashboard"}],
            "client_url": "data:text/html,<script>alert(1)</script>",
        }
    )
    assert alert.links == ()


def test_the_details_are_source_group_class_and_custom_details():
    assert convert().details == {
        "source": "orders-db-replica-2.prod.internal",
        "group": "orders",
        "class": "replication lag",
        "custom_details": {
            "lag_seconds": 47.2,
            "threshold_seconds": 30,
            "replica": "orders-db-replica-2",
        },
    }


def test_routing_keys_are_never_kept():
    details = {
        "routing_key": "test-secret",
        "check": {"Routing-Key": "test-secret", "name": "replication"},
        "hops": [{"integrationKey": "test-secret", "host": "db-2"}],
    }
    alert = convert({"payload.custom_details": details})
    assert "test-secret" not in json.dumps(alert.details)
    assert alert.details["custom_details"] == {
        "check": {"name": "replication"},
        "hops": [{"host": "db-2"}],
    }


def test_custom_details_sent_as_text_are_kept():
    assert convert({"payload.custom_details": "lag 47 s"}).details["custom_details"] == "lag 47 s"


def test_huge_custom_details_are_not_kept():
    alert = convert({"payload.custom_details": {"log": "x" * 20_000}})
    assert "custom_details" not in alert.details
    assert alert.details["source"] == "orders-db-replica-2.prod.internal"


@pytest.mark.parametrize(
    ("custom_details", "environment"),
    [
        ({"environment": "production"}, "production"),
        ({"env": "staging"}, "staging"),
        ({"environment": "", "env": "staging"}, "staging"),
        ({"environment": {"name": "production"}}, ""),
        ({"environment": True}, ""),
        ("environment: production", ""),
        ({}, ""),
    ],
)
def test_the_environment_is_a_text_environment_or_env_detail(custom_details, environment):
    assert convert({"payload.custom_details": custom_details}).environment == environment
