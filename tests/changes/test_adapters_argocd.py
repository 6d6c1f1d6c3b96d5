"""The Argo CD adapter: every Argo CD fixture (bodies our template renders), each operation phase,
the triggers it ignores, and what it refuses."""

from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from changes.adapters import argocd
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

PRODUCER = "argocd"
SUCCEEDED = "sync_succeeded"
FAILED = "sync_failed"
DEGRADED = "health_degraded_ignored"
RUNNING = {"trigger": "on-sync-running", "phase": "Running", "finishedAt": ""}


def convert(name: str, changes: dict[str, Any] | None = None) -> CanonicalChange:
    return argocd.to_canonical(*fixture_request(PRODUCER, name, changes))


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    expect = load_fixture(PRODUCER, name)["expect"]
    assert_fixture_converts(convert, name, expect)


@pytest.mark.parametrize("body", [[], "sync", 3, None, False])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, SUCCEEDED)
    assert refused(argocd.to_canonical, body, headers).field_name == "body"


def test_headers_are_not_needed():
    body, _ = fixture_request(PRODUCER, SUCCEEDED)
    assert argocd.to_canonical(body, CaseInsensitiveMapping({})).component == "checkout-api"


def test_the_whole_sync_is_described():
    change = convert(SUCCEEDED)
    assert change.summary == "Sync of checkout-api to main succeeded"
    assert change.description == "successfully synced (all tasks run)"
    assert change.started_at == parse_timestamp("2026-11-20T14:08:51Z")
    assert (change.kind, change.environment, change.event_type) == (
        "deployment",
        "",
        "on-sync-succeeded",
    )
    assert change.links == (
        {
            "href": "https://argocd.acme-shop.example/applications/checkout-api",
            "text": "Application",
        },
        {"href": "https://github.com/acme-shop/gitops-prod.git", "text": "Repository"},
    )
    assert change.metadata == {
        "project": "default",
        "sync_status": "Synced",
        "health": "Progressing",
        "phase": "Succeeded",
        "automated": True,
        "repository": "https://github.com/acme-shop/gitops-prod.git",
        "destination_server": "https://kubernetes.default.svc",
        "destination_namespace": "checkout",
    }
    assert (change.idempotency_key, change.repeat_reason) == ("", "")


def test_an_automated_sync_names_nobody():
    assert convert(SUCCEEDED, {"initiatedBy": "argocd-application-controller"}).triggered_by == ""
    manual = convert(SUCCEEDED, {"automated": False, "initiatedBy": "dana@acme-shop.example"})
    assert manual.triggered_by == "dana@acme-shop.example"


def test_a_running_sync_has_started_at_its_start():
    change = convert(SUCCEEDED, RUNNING)
    assert change.outcome == "started"
    assert change.occurred_at == change.started_at == parse_timestamp("2026-11-20T14:08:51Z")
    assert change.summary == "Sync of checkout-api to main running"


def test_a_running_sync_ignores_a_finish_it_cannot_have():
    # A template without dig, or an operation restarted: a stale finishedAt is not the latest.
    change = convert(SUCCEEDED, {**RUNNING, "finishedAt": "2026-11-20T14:00:00Z"})
    assert change.occurred_at == parse_timestamp("2026-11-20T14:08:51Z")


@pytest.mark.parametrize(("phase", "outcome"), [("Failed", "failed"), ("Error", "failed")])
def test_a_failed_or_erroring_sync_failed(phase, outcome):
    change = convert(FAILED, {"phase": phase})
    assert (change.outcome, change.summary) == (outcome, "Sync of payments-service to main failed")
    assert change.occurred_at == parse_timestamp("2026-11-20T14:16:47Z")


def test_the_reports_of_one_operation_share_its_identity():
    running, succeeded = convert(SUCCEEDED, RUNNING), convert(SUCCEEDED)
    deployed = convert(SUCCEEDED, {"trigger": "on-deployed", "health": "Healthy"})
    assert running.identity == succeeded.identity == deployed.identity
    assert succeeded.identity == "sync:checkout-api:2026-11-20T14:08:51Z"
    # Each is a report of its own; the same report again is the same event.
    assert len({running.event_id, succeeded.event_id, deployed.event_id}) == 3
    assert convert(SUCCEEDED).event_id == succeeded.event_id


def test_another_operation_of_the_app_is_another_change():
    later = convert(SUCCEEDED, {"startedAt": "2026-11-20T15:00:00Z"})
    assert later.identity != convert(SUCCEEDED).identity


def test_the_revision_checks_that_a_report_is_the_same():
    other = convert(SUCCEEDED, {"revision": "f" * 40})
    assert other.identity == convert(SUCCEEDED).identity
    assert other.event_id != convert(SUCCEEDED).event_id


def test_the_health_never_decides_the_outcome():
    change = convert(SUCCEEDED, {"health": "Degraded", "syncStatus": "OutOfSync"})
    assert change.outcome == "succeeded"


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        ("on-health-degraded", "trigger on-health-degraded: a health change, not a sync"),
        ("on-health-progressing", "trigger on-health-progressing: a health change, not a sync"),
        (
            "on-sync-status-unknown",
            "trigger on-sync-status-unknown: a sync status change, not a sync operation",
        ),
        ("on-created", "trigger on-created: an application created, not a sync"),
        ("on-deleted", "trigger on-deleted: an application deleted, not a sync"),
    ],
)
def test_triggers_that_are_not_a_sync_are_ignored(trigger, reason):
    ignored = skipped(convert, SUCCEEDED, {"trigger": trigger})
    assert (ignored.reason, ignored.event_type) == (reason, trigger)


def test_an_ignored_trigger_needs_nothing_else():
    ignored = skipped(convert, DEGRADED, {"app": REMOVED, "startedAt": REMOVED})
    assert ignored.event_type == "on-health-degraded"


def test_a_body_without_a_trigger_is_read_from_its_phase():
    change = convert(SUCCEEDED, {"trigger": REMOVED})
    assert (change.outcome, change.event_type) == ("succeeded", "sync")
    assert change.identity == convert(SUCCEEDED).identity


def test_a_trigger_of_a_teams_own_is_read_from_its_phase():
    change = convert(FAILED, {"trigger": "on-sync-failed-prod"})
    assert (change.outcome, change.event_type) == ("failed", "on-sync-failed-prod")


@pytest.mark.parametrize(
    ("phase", "reason"),
    [
        ("Terminating", "payments-service: operation phase not recorded: Terminating"),
        ("", "payments-service: no sync operation yet"),
    ],
)
def test_a_phase_that_is_no_state_of_a_change_is_ignored(phase, reason):
    ignored = skipped(convert, FAILED, {"phase": phase})
    assert (ignored.reason, ignored.event_type) == (reason, "on-sync-failed")


@pytest.mark.parametrize("field_name", ["app", "startedAt"])
def test_a_missing_required_field_is_named(field_name):
    assert refused(convert, SUCCEEDED, {field_name: REMOVED}).field_name == field_name
    assert refused(convert, SUCCEEDED, {field_name: ""}).field_name == field_name


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"app": {"name": "checkout-api"}}, "app", None),
        ({"app": "x" * 201}, "app", None),
        ({"trigger": ["on-sync-succeeded"]}, "trigger", None),
        ({"phase": {"name": "Succeeded"}}, "phase", None),
        ({"startedAt": "yesterday"}, "startedAt", None),
        ({"finishedAt": True}, "finishedAt", "Expected a string or a number, got a boolean."),
        ({"automated": "true"}, "automated", "Expected a boolean, got a string."),
        ({"revision": "f" * 101}, "revision", None),
        ({"message": ["a", "b"]}, "message", None),
    ],
)
def test_a_field_of_the_wrong_type_is_named(changes, field_name, problem):
    invalid = refused(convert, SUCCEEDED, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_an_environment_added_to_the_template_is_read():
    assert convert(SUCCEEDED, {"environment": "production"}).environment == "production"


def test_a_repository_over_ssh_is_no_link():
    change = convert(SUCCEEDED, {"repoURL": "git@github.com:acme-shop/gitops-prod.git"})
    assert [link["text"] for link in change.links] == ["Application"]
    assert change.metadata["repository"] == "git@github.com:acme-shop/gitops-prod.git"


def test_a_multi_source_app_has_no_single_revision():
    # dig's defaults: spec.source and syncResult.revision are absent for spec.sources apps.
    change = convert(SUCCEEDED, {"revision": "", "repoURL": "", "targetRevision": ""})
    assert (change.commit, change.version, change.summary) == (
        "",
        "",
        "Sync of checkout-api succeeded",
    )


def test_unicode_values_are_kept():
    change = convert(
        FAILED,
        {
            "app": "zahlungs-dienst-ü",
            "message": "Synchronisierung fehlgeschlagen: Job überschritt das Limit ✗",
            "initiatedBy": "zoë@acme-shop.example",
        },
    )
    assert (change.component, change.triggered_by) == ("zahlungs-dienst-ü", "zoë@acme-shop.example")
    assert change.description == "Synchronisierung fehlgeschlagen: Job überschritt das Limit ✗"
    assert change.identity == "sync:zahlungs-dienst-ü:2026-11-20T14:13:02Z"


def test_the_start_is_compared_as_an_instant():
    shifted = convert(SUCCEEDED, {"startedAt": "2026-11-20T15:08:51+01:00"})
    assert shifted.identity == convert(SUCCEEDED).identity
