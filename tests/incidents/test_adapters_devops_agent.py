"""The DevOps Agent webhook adapter: every fixture, each action, and the bodies it must refuse."""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from incidents.adapters import devops_agent
from incidents.adapters.base import TITLE_LENGTH, AlertAction, CanonicalAlert
from tests.adapters import ALERT_ACTIONS, REMOVED, fixture_request, refused, skipped
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "devops_agent"
CREATED = "01_created"


def convert(changes: dict[str, Any] | None = None, name: str = CREATED) -> CanonicalAlert:
    (alert,) = devops_agent.to_alerts(*fixture_request(PRODUCER, name, changes))
    return alert


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    expect = fixture["expect"]
    # The fixtures send priority and service, so neither is the source's default here.
    assert expect["severity"] != fixture["source_settings"]["default_severity"]
    alert = convert(name=name)
    assert alert.action == ALERT_ACTIONS[expect["action"]]
    assert alert.alias == expect["alias"]
    assert alert.title == expect["title"]
    assert alert.severity == expect["severity"]
    assert alert.components == tuple(expect["components"])


def test_the_signature_headers_are_not_needed_here():
    # The view verifies x-amzn-event-signature; the adapter reads the body alone.
    body, _ = fixture_request(PRODUCER, CREATED)
    (alert,) = devops_agent.to_alerts(body, CaseInsensitiveMapping({}))
    assert alert.alias == "wc-payments-5xx-20261120-1402"


@pytest.mark.parametrize("body", [[], "incident", 7, None, False])
def test_a_body_that_is_not_an_object_is_invalid(body):
    invalid = refused(devops_agent.to_alerts, body, CaseInsensitiveMapping({}))
    assert invalid.field_name == "body"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("created", AlertAction.TRIGGER),
        ("updated", AlertAction.TRIGGER),
        ("acknowledged", AlertAction.ACKNOWLEDGE),
        ("resolved", AlertAction.RESOLVE),
        ("closed", AlertAction.RESOLVE),
        ("Resolved", AlertAction.RESOLVE),
    ],
)
def test_each_action_is_mapped(action, expected):
    alert = convert({"action": action})
    assert alert.action == expected
    assert alert.event_type == f"incident.{action.lower()}"


@pytest.mark.parametrize("action", ["investigation_started", "commented", "reopened_by_rule"])
def test_any_other_action_is_ignored_with_a_reason(action):
    ignored = skipped(convert, {"action": action})
    assert action in ignored.reason
    assert ignored.event_type == f"incident.{action}"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("CRITICAL", "critical"),
        ("HIGH", "high"),
        ("MEDIUM", "medium"),
        ("LOW", "low"),
        ("MINIMAL", "info"),
        ("high", "high"),
        ("P1", ""),
        ("", ""),
        (REMOVED, ""),
    ],
)
def test_the_priority_is_mapped_and_anything_else_is_the_default(priority, severity):
    assert convert({"priority": priority}).severity == severity


def test_without_a_service_the_components_are_the_defaults():
    assert convert({"service": REMOVED}).components == ()
    assert convert({"service": "  "}).components == ()


def test_a_huge_service_is_cut_to_the_component_column():
    (component,) = convert({"service": "payments-" * 40}).components
    assert (len(component), component[-1]) == (200, "…")


def test_the_timestamp_is_when_it_happened():
    alert = convert({"timestamp": "2026-11-20T14:02:11.250Z"})
    assert alert.occurred_at == datetime(2026, 11, 20, 14, 2, 11, 250000, tzinfo=UTC)
    assert convert({"timestamp": REMOVED}).occurred_at is None


def test_the_description_and_data_are_kept():
    alert = convert()
    assert alert.description.startswith("payments-service 5xx ratio at 8.7%")
    assert alert.details["metadata"]["alarm_name"] == "HighErrorRate"


def test_huge_data_is_not_kept():
    alert = convert({"data": {"log": "x" * 20_000}})
    assert alert.details == {}
    assert convert({"data": REMOVED}).details == {}


def test_a_huge_title_is_cut_to_the_title_column():
    title = convert({"title": "Zahlungs-API 5xx " + "ä" * 900}).title
    assert (len(title), title[-1]) == (TITLE_LENGTH, "…")


def test_unicode_titles_are_kept():
    title = "支払い API の 5xx 急増 — déploiement 2026.11.20-3"
    assert convert({"title": title}).title == title


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"incidentId": REMOVED}, "incidentId", "This field is required."),
        ({"incidentId": "  "}, "incidentId", "This field may not be blank."),
        ({"incidentId": "i" * 256}, "incidentId", None),
        ({"incidentId": {"id": "wc-1"}}, "incidentId", None),
        # The alias is a string: 1402 unquoted is a sender's bug, not the incident "1402".
        ({"incidentId": 1402}, "incidentId", "Expected a string, got a number."),
        ({"action": REMOVED}, "action", "This field is required."),
        ({"action": 1}, "action", "Expected a string, got a number."),
        ({"title": ["Payments"]}, "title", None),
        ({"priority": {"level": "HIGH"}}, "priority", None),
        ({"timestamp": "just now"}, "timestamp", None),
        ({"data": "metadata"}, "data", "Expected an object, got a string."),
        ({"service": ["payments-service"]}, "service", None),
    ],
)
def test_a_bad_field_is_named(changes, field_name, problem):
    invalid = refused(convert, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}
