"""The PagerDuty Change Events adapter: every fixture, and the bodies it must refuse."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from changes.adapters import pagerduty
from changes.adapters.base import CanonicalChange
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "pagerduty_change"
DEPLOY_SCRIPT = "deploy_script_change_event"
ANSIBLE = "ansible_pagerduty_change"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return pagerduty.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


@pytest.mark.parametrize("body", [[], "change", 3, None, False])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, DEPLOY_SCRIPT)
    assert refused(pagerduty.to_canonical, body, headers).field_name == "body"


def test_a_change_event_has_no_idempotency_key():
    assert convert(DEPLOY_SCRIPT).idempotency_key == ""
    assert convert(ANSIBLE).idempotency_key == ""


def test_unmapped_custom_details_are_kept_as_metadata():
    assert convert(DEPLOY_SCRIPT).metadata == {
        "build_state": "passed",
        "build_number": "1882",
        "run_time": "612s",
    }
    assert convert(ANSIBLE).metadata == {"repo": "github.com/acme-shop/infra-ansible"}


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2020-07-17T08:42:58.315+0000", datetime(2020, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)),
        ("2026-11-20T14:13:05.482913Z", datetime(2026, 11, 20, 14, 13, 5, 482913, tzinfo=UTC)),
        ("2026-11-20T15:13:05+01:00", datetime(2026, 11, 20, 14, 13, 5, tzinfo=UTC)),
    ],
)
def test_pagerduty_and_ansible_timestamps_are_read(timestamp, expected):
    assert convert(DEPLOY_SCRIPT, {"payload.timestamp": timestamp}).occurred_at == expected


def test_without_a_timestamp_the_receive_time_is_used():
    assert convert(DEPLOY_SCRIPT, {"payload.timestamp": REMOVED}).occurred_at is None


@pytest.mark.parametrize("field_name", ["payload", "payload.summary"])
def test_a_missing_required_field_is_named(field_name):
    assert refused(convert, DEPLOY_SCRIPT, {field_name: REMOVED}).field_name == field_name


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"payload": "deployed"}, "payload", "Expected an object, got a string."),
        ({"payload.summary": 42}, "payload.summary", "Expected a string, got a number."),
        ({"payload.summary": "   "}, "payload.summary", "This field may not be blank."),
        ({"payload.summary": ["deployed"]}, "payload.summary", "Expected a string, got a list."),
        (
            {"payload.timestamp": True},
            "payload.timestamp",
            "Expected a string or a number, got a boolean.",
        ),
        (
            {"payload.timestamp": {"at": "2026-11-20"}},
            "payload.timestamp",
            "Expected a string or a number, got an object.",
        ),
        ({"payload.timestamp": "yesterday"}, "payload.timestamp", None),
        ({"payload.source": {"name": "inventory"}}, "payload.source", None),
        ({"payload.custom_details": "build passed"}, "payload.custom_details", None),
        (
            {"payload.custom_details.environment": "p" * 101},
            "payload.custom_details.environment",
            None,
        ),
        ({"links": {"href": "https://ci.acme-shop.example/"}}, "links", None),
        ({"links": [42]}, "links.0", None),
    ],
)
def test_a_field_of_the_wrong_type_is_named(changes, field_name, problem):
    invalid = refused(convert, DEPLOY_SCRIPT, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_a_summary_over_pagerdutys_limit_is_refused():
    invalid = refused(convert, DEPLOY_SCRIPT, {"payload.summary": "x" * 1025})
    assert invalid.fields == {
        "payload.summary": ["Ensure this field has no more than 1024 characters."]
    }


def test_a_summary_too_long_for_us_is_cut_and_kept_whole_in_the_description():
    summary = "Déployé " + "é" * 1000
    change = convert(DEPLOY_SCRIPT, {"payload.summary": summary})
    assert (len(change.summary), change.summary[-1]) == (500, "…")
    assert change.description == summary


def test_a_multi_line_summary_shows_its_first_line():
    change = convert(DEPLOY_SCRIPT, {"payload.summary": "Deployed 1.2\n\n* fix tax rounding"})
    assert (change.summary, change.description) == (
        "Deployed 1.2",
        "Deployed 1.2\n\n* fix tax rounding",
    )


def test_unicode_summaries_are_kept():
    change = convert(ANSIBLE, {"payload.summary": "Bestellungen-DB: max_connections ↑ 600 ✅"})
    assert (change.summary, change.description) == (
        "Bestellungen-DB: max_connections ↑ 600 ✅",
        "",
    )


def test_only_http_links_are_kept():
    links = [
        {"href": "javascript:alert(document.cookie)", "text": "Build"},
        {"href": "data:text/html,<script>alert(1)</script>", "text": "Log"},
        {"href": "https://ci.acme-shop.example/job/1882/", "text": "Build #1882"},
    ]
    assert convert(DEPLOY_SCRIPT, {"links": links}).links == (
        {"href": "https://ci.acme-shop.example/job/1882/", "text": "Build #1882"},
    )


def test_an_event_without_links_or_source_is_recorded():
    change = convert(DEPLOY_SCRIPT, {"links": REMOVED, "payload.source": REMOVED})
    assert (change.component, change.links) == ("", ())


def test_routing_keys_are_never_kept():
    details = {
        "routing_key": "test-secret",
        "Routing-Key": "test-secret",
        "pipeline": {"integration_key": "test-secret", "name": "deploy"},
        "steps": [{"routingKey": "test-secret", "step": "migrate"}],
    }
    metadata = convert(DEPLOY_SCRIPT, {"payload.custom_details": details}).metadata
    assert metadata == {"pipeline": {"name": "deploy"}, "steps": [{"step": "migrate"}]}
    assert "test-secret" not in json.dumps(convert(ANSIBLE).metadata)


@pytest.mark.parametrize(
    ("details", "outcome"),
    [
        ({"build_state": "failed"}, "failed"),
        ({"status": "FAILURE"}, "failed"),
        ({"build_state": "error"}, "failed"),
        ({"build_state": "passed"}, "succeeded"),
        ({"status": {"code": "failed"}}, "succeeded"),
        ({}, "succeeded"),
    ],
)
def test_only_a_failed_build_result_makes_a_failure(details, outcome):
    assert convert(DEPLOY_SCRIPT, {"payload.custom_details": details}).outcome == outcome


def test_a_kind_naming_one_of_ours_is_used():
    change = convert(ANSIBLE, {"payload.custom_details.kind": "Config"})
    assert change.kind == "config"
    assert "kind" not in change.metadata


def test_any_other_kind_is_a_deployment_and_kept_as_metadata():
    change = convert(ANSIBLE, {"payload.custom_details.kind": "playbook"})
    assert (change.kind, change.metadata["kind"]) == ("deployment", "playbook")


def test_custom_details_that_are_not_text_stay_metadata():
    change = convert(ANSIBLE, {"payload.custom_details.user": {"name": "j.meyer"}})
    assert change.triggered_by == ""
    assert change.metadata["user"] == {"name": "j.meyer"}


def test_a_numeric_revision_is_kept_as_metadata_not_read_as_text():
    # As text, 1.10 would be the version "1.1": free-form details that are not strings stay
    # metadata, as sent.
    change = convert(ANSIBLE, {"payload.custom_details.revision": 1.10})
    assert (change.version, change.metadata["revision"]) == ("", 1.1)
