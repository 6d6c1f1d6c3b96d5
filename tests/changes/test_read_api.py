"""GET /api/v1/changes and /api/v1/changes/<id>: filters, keyset cursor, authentication."""

from datetime import timedelta

import pytest
from django.utils import timezone

from teams.services import create_api_token
from tests.changes.factories import ChangeEventFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentAliasFactory, ComponentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    _, token = create_api_token(user=UserFactory(username="script"))
    return token


def get(client, url, token, **params):
    return client.get(url, params, HTTP_AUTHORIZATION=f"Token {token}")


def test_needs_a_token_or_a_session(client, token, user):
    assert client.get("/api/v1/changes").status_code == 401
    assert get(client, "/api/v1/changes", "wct_wrong").status_code == 401
    assert get(client, "/api/v1/changes", token).status_code == 200
    client.force_login(user)
    assert client.get("/api/v1/changes").status_code == 200


def test_detail_returns_every_stored_field(client, token):
    change = ChangeEventFactory(
        links=[{"href": "https://ci.example.com/1", "text": "run"}], metadata={"k": "v"}
    )
    body = get(client, f"/api/v1/changes/{change.pk}", token).json()

    for field in (
        "component",
        "environment",
        "kind",
        "outcome",
        "summary",
        "description",
        "triggered_by",
        "version",
        "commit",
        "idempotency_key",
    ):
        assert body[field] == getattr(change, field), field
    assert body["links"] == change.links and body["metadata"] == {"k": "v"}
    assert body["pipeline"] == change.pipeline_id
    assert body["pipeline_name"] == change.pipeline.name
    assert body["team"] == change.pipeline.team.slug
    assert {"occurred_at", "received_at", "resolved_component", "correlated_at"} <= set(body)
    assert get(client, "/api/v1/changes/999999", token).status_code == 404


def test_keyset_cursor_walks_every_change_once(client, token):
    now = timezone.now()
    changes = [ChangeEventFactory(occurred_at=now - timedelta(minutes=i % 7)) for i in range(23)]

    seen, params = [], {"limit": 5}
    while True:
        page = get(client, "/api/v1/changes", token, **params).json()
        seen += [row["id"] for row in page["results"]]
        if not page["next_cursor"]:
            assert page["next"] is None
            break
        assert "cursor=" in page["next"]
        params = {"limit": 5, "cursor": page["next_cursor"]}

    assert sorted(seen) == sorted(c.pk for c in changes) and len(seen) == len(set(seen))


def test_filters(client, token):
    payments_team = TeamFactory(slug="payments")
    pipeline = DeploymentPipelineFactory(team=payments_team)
    component = ComponentFactory(name="payments-service", owner_team=payments_team)
    ComponentAliasFactory(component=component, name="payments-prod")
    now = timezone.now()
    target = ChangeEventFactory(
        pipeline=pipeline,
        component="payments-prod",
        resolved_component=component,
        environment="production",
        kind="rollback",
        outcome="failed",
        occurred_at=now - timedelta(hours=1),
    )
    ChangeEventFactory(
        component="other", environment="staging", occurred_at=now - timedelta(days=3)
    )
    manual = ChangeEventFactory(
        pipeline=None,
        component="payments-service",
        resolved_component=component,
        idempotency_key="",
    )

    def ids(**params):
        return {
            row["id"] for row in get(client, "/api/v1/changes", token, **params).json()["results"]
        }

    assert ids(component="payments-service") == {target.pk, manual.pk}
    assert ids(component="PAYMENTS-PROD") == {target.pk, manual.pk}
    assert ids(team="payments") == {target.pk, manual.pk}
    assert ids(environment="production", kind="rollback", outcome="failed") == {target.pk}
    assert ids(pipeline=pipeline.pk) == {target.pk}
    assert target.pk in ids(since=(now - timedelta(hours=2)).isoformat())
    assert ids(until=(now - timedelta(days=2)).isoformat()) != set() and target.pk not in ids(
        until=(now - timedelta(days=2)).isoformat()
    )


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "explosion"},
        {"status": "exploded"},
        {"since": "yesterday"},
        {"limit": "0"},
        {"limit": "x"},
    ],
)
def test_bad_filters_are_400_in_the_error_shape(client, token, params):
    response = get(client, "/api/v1/changes", token, **params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "fields"} and set(params) <= set(body["fields"])


@pytest.mark.parametrize("count", [5, 60])
def test_list_costs_constant_queries(client, token, count, django_assert_max_num_queries):
    changes = ChangeEventFactory.create_batch(count)
    for change in changes[::2]:  # other pipelines' reports of half of them
        ChangeEventFactory(same_as=change)
    with django_assert_max_num_queries(4):  # the token, the rows, the other reports of them
        assert get(client, "/api/v1/changes", token, limit=50).status_code == 200


def test_a_change_has_its_lifecycle_and_every_report_of_it(client, token):
    now = timezone.now()
    rollback = ChangeEventFactory(kind="rollback")
    change = ChangeEventFactory(
        identity="deployment-42",
        outcome="succeeded",
        started_at=now - timedelta(minutes=6),
        occurred_at=now,
        rolled_back_by=rollback,
        events=[
            {"outcome": "started", "at": (now - timedelta(minutes=6)).isoformat(), "key": "a"},
            {"outcome": "succeeded", "at": now.isoformat(), "key": "b"},
        ],
    )
    script = DeploymentPipelineFactory(name="Deploy script")
    grouped = ChangeEventFactory(same_as=change, pipeline=script, outcome="started")

    body = get(client, f"/api/v1/changes/{change.pk}", token).json()

    assert body["started_at"] == (now - timedelta(minutes=6)).isoformat().replace("+00:00", "Z")
    assert body["finished_at"] == body["occurred_at"] == now.isoformat().replace("+00:00", "Z")
    assert (body["status"], body["outcome"]) == ("rolled_back", "succeeded")
    assert (body["identity"], body["same_as"], body["rolled_back_by"]) == (
        "deployment-42",
        None,
        rollback.pk,
    )
    assert [entry["outcome"] for entry in body["transitions"]] == ["started", "succeeded"]
    reports = [
        {"id": change.pk, "pipeline": change.pipeline_id, "pipeline_name": change.pipeline.name},
        {"id": grouped.pk, "pipeline": script.pk, "pipeline_name": "Deploy script"},
    ]
    assert [
        {name: report[name] for name in ("id", "pipeline", "pipeline_name")}
        for report in body["reports"]
    ] == reports
    assert [report["outcome"] for report in body["reports"]] == ["succeeded", "started"]
    assert all(report["received_at"] for report in body["reports"])

    # A grouped report is no change of the list, but opens by its id, with its group's reports.
    listed = {row["id"]: row for row in get(client, "/api/v1/changes", token).json()["results"]}
    assert grouped.pk not in listed
    assert [report["id"] for report in listed[change.pk]["reports"]] == [change.pk, grouped.pk]
    report = get(client, f"/api/v1/changes/{grouped.pk}", token).json()
    assert (report["same_as"], report["status"]) == (change.pk, "started")
    assert [entry["id"] for entry in report["reports"]] == [change.pk, grouped.pk]
    assert report["transitions"] == [
        {
            "outcome": "started",
            "at": grouped.occurred_at.isoformat(),
            "received_at": grouped.received_at.isoformat(),
            "key": grouped.idempotency_key,
        }
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "running"}, {"running"}),
        ({"status": "rolled_back"}, {"undone"}),
        ({"status": "succeeded"}, {"succeeded"}),
        ({"status": "failed"}, {"rollback"}),
        ({"outcome": "succeeded"}, {"succeeded", "undone"}),  # the outcome as reported
        ({"outcome": "started"}, {"running"}),
    ],
)
def test_the_status_filter(client, token, params, expected):
    rollback = ChangeEventFactory(summary="rollback", kind="rollback", outcome="failed")
    ChangeEventFactory(summary="running", outcome="started")
    ChangeEventFactory(summary="succeeded", outcome="succeeded")
    ChangeEventFactory(summary="undone", outcome="succeeded", rolled_back_by=rollback)

    results = get(client, "/api/v1/changes", token, **params).json()["results"]

    assert {row["summary"] for row in results} == expected


def test_schema_lists_the_endpoints(client, token):
    schema = get(client, "/api/schema/", token, format="json").json()
    for path in (
        "/api/v1/changes",
        "/api/v1/changes/{id}",
        "/api/v1/pipelines/{key}/events",
        "/api/deployment-events",
        "/v2/change/enqueue",
    ):
        assert path in schema["paths"], path
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/changes"])
