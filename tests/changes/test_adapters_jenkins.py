"""The Jenkins Notification plugin adapter: every fixture, each phase and status, and the bodies
it must refuse or skip."""

import json
from datetime import timedelta
from typing import Any

import pytest

from changes.adapters import jenkins
from changes.adapters.base import CanonicalChange
from common.times import parse_timestamp
from tests.adapters import (
    REMOVED,
    assert_fixture_converts,
    fixture_request,
    refused,
    skipped,
)
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "jenkins"
COMPLETED = "build_completed_success"


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return jenkins.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


def test_a_completed_build_is_a_deployment_of_its_job():
    change = convert(COMPLETED)
    assert (change.component, change.environment, change.kind, change.outcome) == (
        "checkout-api",
        "production",
        "deployment",
        "succeeded",
    )
    assert change.summary == "deploy/checkout-api #482 to production"
    assert change.links == (
        {"href": "https://ci.acme-shop.example/job/deploy/job/checkout-api/482/", "text": "Build"},
    )
    assert change.metadata == {
        "job": "job/deploy/job/checkout-api/",
        "build_number": 482,
        "queue_id": 91873,
        "phase": "COMPLETED",
        "status": "SUCCESS",
        "duration_ms": 395204,
        "repository": "https://github.com/acme-shop/checkout-api.git",
    }
    assert change.event_type == "COMPLETED"


def test_every_phase_of_a_build_has_the_identity_of_job_url_and_number():
    started, completed = convert("build_started"), convert(COMPLETED)
    finalized = convert(COMPLETED, {"build.phase": "FINALIZED"})
    assert started.identity == completed.identity == finalized.identity
    assert completed.identity == "build:job/deploy/job/checkout-api/482"
    assert convert(COMPLETED, {"build.number": 483}).identity.endswith("/483")
    assert convert(COMPLETED, {"url": "job/checkout-api/"}).identity != completed.identity


def test_finalized_with_the_status_completed_gave_is_the_same_report():
    completed = convert(COMPLETED)
    assert convert(COMPLETED, {"build.phase": "FINALIZED"}).event_id == completed.event_id
    assert convert(COMPLETED, {"build.status": "FAILURE"}).event_id != completed.event_id
    assert convert("build_started").event_id != completed.event_id


def test_times_are_epoch_milliseconds_and_a_finish_gives_its_start():
    change = convert(COMPLETED)
    assert change.occurred_at == parse_timestamp("2026-11-20T14:26:40.321Z")
    assert change.started_at == parse_timestamp("2026-11-20T14:20:05.117Z")
    assert change.occurred_at - change.started_at == timedelta(milliseconds=395204)


def test_a_start_is_its_own_time():
    started = convert("build_started")
    assert started.outcome == "started"
    assert started.occurred_at == parse_timestamp("2026-11-20T14:20:05.117Z")
    assert started.started_at is None
    # Before the SCM checkout: no branch, commit or status yet.
    assert (started.version, started.commit, started.branch) == ("", "", "")


def test_a_finish_without_a_duration_gives_no_start():
    assert convert(COMPLETED, {"build.duration": REMOVED}).started_at is None
    assert convert(COMPLETED, {"build.duration": 0}).started_at is None


def test_older_plugins_iso_timestamps_are_read():
    change = convert(COMPLETED, {"build.timestamp": "2026-11-20T14:26:40.321+00:00"})
    assert change.occurred_at == parse_timestamp("2026-11-20T14:26:40.321Z")


@pytest.mark.parametrize("phase", ["COMPLETED", "FINALIZED"])
@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("SUCCESS", "succeeded"),
        ("FAILURE", "failed"),
        ("UNSTABLE", "failed"),
        ("ABORTED", "failed"),
    ],
)
def test_a_finished_build_is_recorded_by_its_status(phase, status, outcome):
    change = convert(COMPLETED, {"build.phase": phase, "build.status": status})
    assert (change.outcome, change.event_type) == (outcome, phase)


def test_the_phase_and_status_are_read_in_any_case():
    assert convert(COMPLETED, {"build.phase": "completed", "build.status": "failure"}).outcome == (
        "failed"
    )


@pytest.mark.parametrize(
    ("changes", "reason", "event_type"),
    [
        ({"build.phase": "QUEUED"}, "phase QUEUED: the build has not started yet", "QUEUED"),
        ({"build.status": "NOT_BUILT"}, "status NOT_BUILT: the build did not run", "COMPLETED"),
        (
            {"build.phase": "FINALIZED", "build.status": REMOVED},
            "phase FINALIZED without a status: the result is not known",
            "FINALIZED",
        ),
        ({"build.status": "CANCELLED"}, "status not recorded: CANCELLED", "COMPLETED"),
        ({"build.phase": "NONE"}, "phase not recorded: NONE", "NONE"),
    ],
)
def test_builds_that_are_not_a_change_are_ignored(changes, reason, event_type):
    ignored = skipped(convert, COMPLETED, changes)
    assert (ignored.reason, ignored.event_type) == (reason, event_type)


def test_a_component_parameter_names_the_component_instead_of_the_job():
    change = convert(COMPLETED, {"build.parameters.COMPONENT": "payments-service"})
    assert change.component == "payments-service"
    assert convert(COMPLETED, {"build.parameters.COMPONENT": ""}).component == "checkout-api"


def test_without_parameters_there_is_no_environment():
    change = convert(COMPLETED, {"build.parameters": REMOVED})
    assert (change.environment, change.component) == ("", "checkout-api")
    assert change.summary == "deploy/checkout-api #482"


def test_the_version_keeps_the_remote_and_the_branch_filter_gets_the_branch():
    change = convert(COMPLETED)
    assert (change.version, change.branch) == ("origin/main", "main")
    assert convert(COMPLETED, {"build.scm.branch": "release/2.14"}).branch == "release/2.14"


def test_gsons_html_safe_escapes_are_plain_json_escapes():
    raw = load_fixture(PRODUCER, COMPLETED)["body"]
    assert "\\u003d" in raw
    body = json.loads(
        raw.replace(
            '"ENVIRONMENT":"production"', '"ENVIRONMENT":"eu\\u003cprod\\u003e\\u0026\\u0027"'
        )
    )
    change = jenkins.to_canonical(body, {})
    assert body["build"]["parameters"]["HELM_SET"] == "image.tag=v2.14.0"
    assert change.environment == "eu<prod>&'"


def test_build_notes_are_the_description():
    assert convert(COMPLETED, {"build.notes": "Rolled by the release train"}).description == (
        "Rolled by the release train"
    )
    assert convert(COMPLETED).description == ""


def test_a_full_url_that_is_not_http_is_dropped():
    assert convert(COMPLETED, {"build.full_url": "javascript:alert(1)"}).links == ()


@pytest.mark.parametrize("body", [[], "COMPLETED", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    assert refused(jenkins.to_canonical, body, {}).field_name == "body"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"build": REMOVED}, "build"),
        ({"build": "482"}, "build"),
        ({"build.phase": REMOVED}, "build.phase"),
        ({"build.phase": ["COMPLETED"]}, "build.phase"),
        ({"build.status": {"result": "SUCCESS"}}, "build.status"),
        ({"url": REMOVED}, "url"),
        ({"url": ""}, "url"),
        ({"url": "job/" * 70}, "url"),
        ({"build.number": REMOVED}, "build.number"),
        ({"build.number": [482]}, "build.number"),
        ({"name": REMOVED}, "name"),
        ({"name": {"leaf": "checkout-api"}}, "name"),
        ({"build.parameters": ["ENVIRONMENT=production"]}, "build.parameters"),
        ({"build.parameters.ENVIRONMENT": ["production"]}, "build.parameters.ENVIRONMENT"),
        ({"build.parameters.ENVIRONMENT": "p" * 101}, "build.parameters.ENVIRONMENT"),
        ({"build.timestamp": "yesterday"}, "build.timestamp"),
        ({"build.timestamp": True}, "build.timestamp"),
        ({"build.duration": "395204"}, "build.duration"),
        ({"build.scm": "git"}, "build.scm"),
    ],
)
def test_missing_or_wrong_typed_fields_are_named(changes, field):
    assert refused(convert, COMPLETED, changes).field_name == field


def test_a_build_without_its_job_name_is_read_when_a_component_parameter_names_it():
    change = convert(COMPLETED, {"name": REMOVED, "build.parameters.COMPONENT": "checkout-api"})
    assert change.component == "checkout-api"


def test_unicode_values_are_kept():
    change = convert(
        COMPLETED,
        {
            "name": "café-api",
            "url": "job/d%C3%A9ploiement/job/caf%C3%A9-api/",
            "build.parameters.ENVIRONMENT": "prøduktion",
            "build.notes": "Größere Knoten ✅",
        },
    )
    assert (change.component, change.environment, change.description) == (
        "café-api",
        "prøduktion",
        "Größere Knoten ✅",
    )
    assert change.summary == "déploiement/café-api #482 to prøduktion"
