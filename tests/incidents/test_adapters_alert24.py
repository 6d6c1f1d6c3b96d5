"""The Alert24 incidents API adapter: the create fixture, statuses, and the bodies it refuses."""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from incidents.adapters import alert24
from incidents.adapters.base import ALIAS_LENGTH, TITLE_LENGTH, AlertAction, CanonicalAlert
from tests.adapters import REMOVED, assert_alert_matches, fixture_request, refused
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "alert24_incidents"
CREATE = "01_create_incident"
# The other fixtures are PUTs on an incident, another endpoint's business.
POSTED = [
    name for name in fixture_names(PRODUCER) if load_fixture(PRODUCER, name)["method"] == "POST"
]


def convert(changes: dict[str, Any] | None = None, name: str = CREATE) -> CanonicalAlert:
    (alert,) = alert24.to_alerts(*fixture_request(PRODUCER, name, changes))
    return alert


@pytest.mark.parametrize("name", POSTED)
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    alert = convert(name=name)
    assert_alert_matches(alert, fixture["expect"], fixture["source_settings"])
    assert alert.tags == tuple(fixture["expect"]["tags"])


@pytest.mark.parametrize("body", [[], "incident", 1, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    invalid = refused(alert24.to_alerts, body, CaseInsensitiveMapping({}))
    assert invalid.field_name == "body"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "critical"),
        ("high", "high"),
        ("medium", "medium"),
        ("low", "low"),
        ("info", "info"),
        ("error", "high"),
        ("warning", "medium"),
        ("minimal", "info"),
        ("maintenance", "info"),
        ("Critical", "critical"),
        ("", ""),
        (REMOVED, ""),
    ],
)
def test_the_severity_is_mapped(severity, expected):
    assert convert({"severity": severity}).severity == expected


@pytest.mark.parametrize(
    ("severity", "problem"),
    [("urgent", None), ("sev1", None), (1, "Expected a string, got a number.")],
)
def test_any_other_severity_is_refused(severity, problem):
    invalid = refused(convert, {"severity": severity})
    assert invalid.field_name == "severity"
    if problem:
        assert invalid.fields == {"severity": [problem]}


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (None, AlertAction.TRIGGER),
        ("open", AlertAction.TRIGGER),
        ("investigating", AlertAction.TRIGGER),
        ("acknowledged", AlertAction.ACKNOWLEDGE),
        ("resolved", AlertAction.RESOLVE),
        ("closed", AlertAction.RESOLVE),
        ("Resolved", AlertAction.RESOLVE),
    ],
)
def test_the_status_says_what_happens(status, action):
    alert = convert({"status": status})
    assert (alert.action, alert.event_type) == (action, action.value)


def test_an_unknown_status_is_refused():
    assert refused(convert, {"status": "paused"}).field_name == "status"
    assert refused(convert, {"status": 2}).field_name == "status"


def test_a_script_resolves_by_alias_alone():
    body = {"alias": "cloudwatch-CheckoutErrorRate", "status": "resolved"}
    (alert,) = alert24.to_alerts(body, CaseInsensitiveMapping({}))
    assert (alert.action, alert.alias, alert.title) == (
        AlertAction.RESOLVE,
        "cloudwatch-CheckoutErrorRate",
        "",
    )


def test_a_resolve_without_alias_or_title_is_refused():
    invalid = refused(alert24.to_alerts, {"status": "resolved"}, CaseInsensitiveMapping({}))
    assert invalid.field_name == "alias"


@pytest.mark.parametrize(
    ("title", "problem"),
    [
        (REMOVED, "This field is required."),
        ("  ", "This field may not be blank."),
        (500, "Expected a string, got a number."),
        (["AWS: CheckoutErrorRate"], "Expected a string, got a list."),
    ],
)
def test_a_trigger_needs_a_title(title, problem):
    assert refused(convert, {"title": title}).fields == {"title": [problem]}


def test_without_an_alias_the_title_is_the_alias():
    assert convert({"alias": REMOVED}).alias == "AWS: CheckoutErrorRate"
    assert convert({"alias": ""}).alias == "AWS: CheckoutErrorRate"


def test_a_huge_title_is_cut_and_so_is_the_alias_made_of_it():
    alert = convert({"title": "AWS: " + "Ä" * 2000, "alias": REMOVED})
    assert (len(alert.title), alert.title[-1]) == (TITLE_LENGTH, "…")
    assert (len(alert.alias), alert.alias[-1]) == (ALIAS_LENGTH, "…")


def test_a_huge_alias_is_refused():
    assert refused(convert, {"alias": "a" * 256}).field_name == "alias"


def test_unicode_titles_are_kept():
    title = "AWS: Fehlerquote Kasse ↑ 9,4 % — 結帳"
    assert convert({"title": title}).title == title


@pytest.mark.parametrize(
    ("tags", "field_name", "problem"),
    [
        ("aws,cloudwatch", "tags", "Expected a list, got a string."),
        ({"aws": True}, "tags", "Expected a list, got an object."),
        (["aws", 3], "tags.1", "Expected a string, got a number."),
        (["aws", {"region": "us-east-1"}], "tags.1", "Expected a string, got an object."),
    ],
)
def test_tags_must_be_a_list_of_strings(tags, field_name, problem):
    assert refused(convert, {"tags": tags}).fields == {field_name: [problem]}


def test_blank_and_repeated_tags_are_dropped():
    # The Lambda sends the alarm's Region, which may be empty.
    alert = convert({"tags": ["aws", " ", "", "aws", "cloudwatch", None]})
    assert alert.tags == ("aws", "cloudwatch")


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"components": "checkout-service"}, "components"),
        ({"components": ["checkout-service", 7]}, "components.1"),
        ({"components": ["c" * 201]}, "components.0"),
    ],
)
def test_components_must_be_a_list_of_short_strings(changes, field_name):
    assert refused(convert, changes).field_name == field_name


def test_components_sent_are_used():
    alert = convert({"components": ["checkout-service", "payments-service", "checkout-service"]})
    assert alert.components == ("checkout-service", "payments-service")


@pytest.mark.parametrize(
    ("tags", "environment"),
    [
        (["aws", "env:production"], "production"),
        (["environment:staging"], "staging"),
        (["environment=production"], "production"),
        (["Env: qa"], "qa"),
        (["environment:"], ""),
        (["aws", "production"], ""),
    ],
)
def test_the_environment_comes_from_an_env_tag(tags, environment):
    assert convert({"tags": tags}).environment == environment


def test_the_start_time_is_started_at_else_timestamp():
    at = datetime(2026, 11, 20, 14, 4, tzinfo=UTC)
    assert convert({"started_at": "2026-11-20T14:04:00.000Z"}).occurred_at == at
    assert convert({"timestamp": 1795183440}).occurred_at == at
    assert convert().occurred_at is None
    assert refused(convert, {"started_at": "at four"}).field_name == "started_at"


def test_the_source_is_kept_as_a_detail():
    assert convert().details == {"source": "cloudwatch"}
    assert convert({"source": REMOVED}).details == {}
