"""A change is a lifecycle with one identity: the reports of one rollout, through the real
endpoints, in either order, make one change with its start, finish and final status."""

import json
from datetime import timedelta

import pytest

from changes.models import ChangeEvent
from common.times import parse_timestamp
from incidents.correlation import correlate_pending_changes
from pipelines.models import Delivery
from tests.changes.ingest import pipeline_for, post_fixture, post_json
from tests.fixtures import load_fixture
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory

pytestmark = pytest.mark.django_db

# Fixture pairs of one change, earlier report first (fixtures README, "One change, several
# events").
PAIRS = [
    ("github", "deployment_status_queued_start", "deployment_status_success_same_deployment"),
    ("gitlab", "deployment_hook_running", "deployment_hook_success"),
]
T0 = parse_timestamp("2026-11-20T14:00:00Z")


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize(("producer", "first", "second"), PAIRS)
def test_a_start_then_its_finish_make_one_change(client, producer, first, second):
    pipeline_for(producer)
    started = post_fixture(client, producer, load_fixture(producer, first))
    finished = post_fixture(client, producer, load_fixture(producer, second))

    change = ChangeEvent.objects.get()
    assert started.json() == {"id": change.pk, "status": "recorded"}
    assert finished.json() == {"id": change.pk, "status": "updated"}
    expect = load_fixture(producer, second)["expect"]
    assert change.outcome == change.status == expect["outcome"]
    assert change.occurred_at == parse_timestamp(expect["occurred_at"])
    assert change.finished_at == parse_timestamp(expect["occurred_at"])
    start_expected = (
        expect.get("started_at") or load_fixture(producer, first)["expect"]["occurred_at"]
    )
    assert change.started_at == parse_timestamp(start_expected)
    assert [report["outcome"] for report in change.transitions] == ["started", "succeeded"]
    # The first report's delivery id stays the change's; the second is logged as an update.
    assert change.idempotency_key == load_fixture(producer, first)["expect"]["idempotency_key"]
    assert Delivery.objects.filter(object_id=change.pk).count() == 2


@pytest.mark.parametrize(("producer", "first", "second"), PAIRS)
def test_a_finish_then_its_late_start_make_the_same_change(client, producer, first, second):
    pipeline_for(producer)
    post_fixture(client, producer, load_fixture(producer, second))
    late_start = post_fixture(client, producer, load_fixture(producer, first))

    change = ChangeEvent.objects.get()
    assert late_start.json() == {"id": change.pk, "status": "updated"}
    expect = load_fixture(producer, second)["expect"]
    # The late start only fills the start: the change stays finished.
    assert change.outcome == expect["outcome"]
    assert change.occurred_at == change.finished_at == parse_timestamp(expect["occurred_at"])
    assert change.started_at == parse_timestamp(
        load_fixture(producer, first)["expect"]["occurred_at"]
    )
    assert [report["outcome"] for report in change.transitions] == ["started", "succeeded"]


@pytest.mark.parametrize(("producer", "first", "second"), PAIRS)
def test_a_redelivered_report_changes_nothing(client, producer, first, second):
    pipeline_for(producer)
    post_fixture(client, producer, load_fixture(producer, first))
    post_fixture(client, producer, load_fixture(producer, second))
    again = post_fixture(client, producer, load_fixture(producer, first))

    change = ChangeEvent.objects.get()
    assert again.json() == {"id": change.pk, "status": "duplicate"}
    assert len(change.transitions) == 2


def test_a_github_replay_under_a_new_delivery_header_is_a_duplicate(client):
    pipeline_for("github")
    fixture = load_fixture("github", "deployment_status_success")
    first = post_fixture(client, "github", fixture)
    # GitHub does not sign X-GitHub-Delivery: a replayer can change it, not the signed body.
    replay = {**fixture, "headers": {**fixture["headers"], "X-GitHub-Delivery": "new-delivery"}}
    second = post_fixture(client, "github", replay)

    assert second.status_code == 202
    assert second.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert ChangeEvent.objects.count() == 1


def test_a_github_push_replayed_under_a_new_delivery_header_is_a_duplicate(client):
    pipeline_for("github")
    fixture = load_fixture("github", "push_default_branch")
    first = post_fixture(client, "github", fixture)
    replay = {**fixture, "headers": {**fixture["headers"], "X-GitHub-Delivery": "other"}}

    assert post_fixture(client, "github", replay).json() == {
        "id": first.json()["id"],
        "status": "duplicate",
    }


@pytest.mark.parametrize(
    ("outcome", "stored"),
    [("failed", "failed"), ("cancelled", "cancelled"), ("canceled", "cancelled")],
)
def test_the_generic_api_reports_a_rollout_by_deployment_id(client, outcome, stored):
    pipeline_for("alert24")
    body = {"component": "payments-service", "environment": "production", "version": "v4.7.0"}
    start = post_json(
        client, {**body, "deployment_id": "run-81", "outcome": "started", "occurred_at": at(0)}
    )
    end = post_json(
        client, {**body, "deployment_id": "run-81", "outcome": outcome, "occurred_at": at(5)}
    )

    change = ChangeEvent.objects.get()
    assert (start.json()["id"], end.json()) == (change.pk, {"id": change.pk, "status": "updated"})
    assert (change.outcome, change.started_at, change.finished_at) == (
        stored,
        T0,
        T0 + timedelta(minutes=5),
    )
    assert change.duration == timedelta(minutes=5)


def test_alert24s_external_id_is_the_same_identity(client):
    pipeline_for("alert24")
    post_json(
        client,
        {"component": "api", "external_id": "x-1", "outcome": "started", "occurred_at": at(0)},
    )
    post_json(client, {"component": "api", "deployment_id": "x-1", "occurred_at": at(3)})

    change = ChangeEvent.objects.get()
    assert (change.identity, change.outcome, change.started_at) == ("x-1", "succeeded", T0)


def test_an_explicit_started_at_is_the_start(client):
    pipeline_for("alert24")
    post_json(client, {"component": "api", "started_at": at(-8), "occurred_at": at(0)})

    change = ChangeEvent.objects.get()
    assert (change.started_at, change.finished_at) == (T0 - timedelta(minutes=8), T0)


def test_the_same_identity_in_another_pipeline_is_another_change(client):
    pipeline_for("alert24")
    DeploymentPipelineFactory(kind="generic", key="other-pipeline-key-1")
    body = {"component": "api", "deployment_id": "7", "occurred_at": at(0)}
    post_json(client, body)
    post_json(client, body, key="other-pipeline-key-1")

    assert ChangeEvent.objects.count() == 2


def test_a_running_change_has_no_finish(client):
    pipeline_for("alert24")
    post_json(
        client,
        {"component": "api", "deployment_id": "9", "outcome": "started", "occurred_at": at(0)},
    )

    change = ChangeEvent.objects.get()
    assert (change.status, change.finished_at, change.is_running) == ("started", None, True)


def test_a_batch_updates_changes_by_identity(client):
    pipeline_for("alert24")
    items = [
        {"component": "api", "deployment_id": "b-1", "outcome": "started", "occurred_at": at(0)},
        {"component": "api", "deployment_id": "b-1", "outcome": "succeeded", "occurred_at": at(4)},
        {"component": "web", "occurred_at": at(1)},
    ]
    response = client.post(
        "/api/v1/changes/batch",
        json.dumps({"changes": items}),
        content_type="application/json",
        headers={"Authorization": "Bearer test-secret"},
    )

    body = response.json()
    rollout = ChangeEvent.objects.get(identity="b-1")
    assert [result["status"] for result in body["results"]] == ["recorded", "updated", "recorded"]
    assert body["results"][0]["id"] == body["results"][1]["id"] == rollout.pk
    assert (body["recorded"], body["updated"]) == (2, 1)
    assert (rollout.outcome, rollout.started_at) == ("succeeded", T0)


# --- One rollout, two reporters ----------------------------------------------------------------

COMMIT = "9e41c07b3d2a8f61e5c4b0a9d8e7f6a5b4c3d2e1"


def _report_by_curl(client) -> None:
    """The pipeline's own curl step, reporting the rollout GitHub reports too."""
    body = {
        "component": "payments-service",
        "environment": "production",
        "commit": COMMIT,
        "version": "v4.7.0",
        "occurred_at": "2026-11-20T14:02:50Z",
    }
    assert post_json(client, body, key="curl-step-key-0001").status_code == 202


@pytest.mark.parametrize("github_first", [True, False])
def test_the_same_rollout_from_two_pipelines_is_one_logical_change(client, github_first):
    pipeline_for("github", name="payments-github")
    DeploymentPipelineFactory(kind="generic", key="curl-step-key-0001", name="payments-curl")
    github = load_fixture("github", "deployment_status_success")
    if github_first:
        post_fixture(client, "github", github)
        _report_by_curl(client)
    else:
        _report_by_curl(client)
        post_fixture(client, "github", github)
    correlate_pending_changes()  # the worker groups reports before it correlates

    first, later = ChangeEvent.objects.order_by("pk")
    assert ChangeEvent.objects.logical().get() == first
    assert later.same_as == first
    assert list(first.also_reported.all()) == [later]


def test_a_short_commit_and_its_full_sha_are_the_same_rollout(client):
    ComponentFactory(name="inventory-service")
    pipeline_for("gitlab")
    DeploymentPipelineFactory(kind="generic", key="curl-step-key-0001")
    post_fixture(client, "gitlab", load_fixture("gitlab", "deployment_hook_success"))
    post_json(
        client,
        {
            "component": "inventory-service",
            "environment": "production",
            "commit": "c41d9e07aa5b4c3d2e19e41c07b3d2a8f61e5c4b",
            "occurred_at": "2026-11-20T14:05:00Z",
        },
        key="curl-step-key-0001",
    )
    correlate_pending_changes()

    assert ChangeEvent.objects.logical().count() == 1


@pytest.mark.parametrize(
    "other",
    [
        {"environment": "staging"},
        {"commit": "0000000aaaaaaa"},
        {"occurred_at": "2026-11-20T15:00:00Z"},
        {"component": "search-api"},
    ],
)
def test_reports_that_differ_are_separate_changes(client, other):
    pipeline_for("github")
    DeploymentPipelineFactory(kind="generic", key="curl-step-key-0001")
    post_fixture(client, "github", load_fixture("github", "deployment_status_success"))
    body = {
        "component": "payments-service",
        "environment": "production",
        "commit": COMMIT,
        "occurred_at": "2026-11-20T14:03:00Z",
        **other,
    }
    post_json(client, body, key="curl-step-key-0001")
    correlate_pending_changes()

    assert ChangeEvent.objects.logical().count() == 2


def test_a_second_report_that_started_earlier_gives_the_group_its_start(client):
    pipeline_for("alert24")
    DeploymentPipelineFactory(kind="generic", key="curl-step-key-0001")
    common = {"component": "api", "environment": "production", "version": "v2"}
    post_json(client, {**common, "occurred_at": at(6)})  # the finish, reported first
    post_json(
        client,
        {**common, "deployment_id": "r1", "outcome": "started", "occurred_at": at(0)},
        key="curl-step-key-0001",
    )
    correlate_pending_changes()

    logical = ChangeEvent.objects.logical().get()
    assert (logical.started_at, logical.finished_at, logical.outcome) == (
        T0,
        T0 + timedelta(minutes=6),
        "succeeded",
    )


# --- Rollbacks ---------------------------------------------------------------------------------


def _deploy(client, version: str, minutes: float, **fields) -> int:
    body = {
        "component": "payments-service",
        "environment": "production",
        "version": version,
        "occurred_at": at(minutes),
        **fields,
    }
    return post_json(client, body).json()["id"]


def test_a_rollback_naming_the_version_rolls_that_change_back(client):
    pipeline_for("alert24")
    older = _deploy(client, "v4.6.0", 0)
    bad = _deploy(client, "v4.7.0", 10)
    rollback = _deploy(client, "v4.7.0", 20, kind="rollback")
    correlate_pending_changes()

    assert ChangeEvent.objects.get(pk=bad).status == "rolled_back"
    assert ChangeEvent.objects.get(pk=bad).rolled_back_by_id == rollback
    assert ChangeEvent.objects.get(pk=older).status == "succeeded"
    assert ChangeEvent.objects.get(pk=rollback).status == "succeeded"


def test_a_rollback_to_an_older_version_rolls_back_everything_after_it(client):
    pipeline_for("alert24")
    good = _deploy(client, "v4.6.0", 0)
    bad = [_deploy(client, "v4.7.0", 10), _deploy(client, "v4.7.1", 15)]
    _deploy(client, "v4.6.0", 20, kind="rollback")
    correlate_pending_changes()

    assert ChangeEvent.objects.get(pk=good).rolled_back_by is None
    assert {c.status for c in ChangeEvent.objects.filter(pk__in=bad)} == {"rolled_back"}


def test_a_rollback_of_another_environment_rolls_nothing_back(client):
    pipeline_for("alert24")
    deployed = _deploy(client, "v4.7.0", 10)
    _deploy(client, "v4.7.0", 20, kind="rollback", environment="staging")
    correlate_pending_changes()

    assert ChangeEvent.objects.get(pk=deployed).rolled_back_by is None


def test_a_codepipeline_rollback_execution_rolls_back_the_last_execution(client):
    pipeline_for("codepipeline")
    fixture = load_fixture("codepipeline", "pipeline_execution_succeeded")
    first = post_fixture(client, "codepipeline", fixture).json()["id"]
    body = json.loads(fixture["body"])
    body["id"] = "another-event-id"
    body["detail"]["execution-id"] = "rollback-execution"
    body["time"] = "2026-11-20T14:30:00Z"
    body["detail"]["execution-trigger"] = {"trigger-type": "ManualRollback"}
    post_fixture(client, "codepipeline", {**fixture, "body": json.dumps(body)})
    correlate_pending_changes()

    assert ChangeEvent.objects.get(pk=first).status == "rolled_back"
