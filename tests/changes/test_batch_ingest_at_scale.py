"""POST /api/v1/changes/batch at its full size: 1,000 changes with twins inside the batch and
keys stored before, retries of the same batch, identical batches at the same instant, and a
statement count that does not grow with the batch (the set-based insert of changes.services)."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from changes import services
from changes.adapters.base import CanonicalChange
from changes.models import ChangeEvent
from pipelines.models import Delivery
from tests.changes.ingest import KEY, pipeline_for, post_json, post_raw
from tests.conftest import all_at_once, postgres_only
from tests.teams.factories import ComponentAliasFactory, ComponentFactory, TeamFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/changes/batch"
T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


@pytest.fixture
def pipeline():
    return pipeline_for("alert24")


def post_batch(client, body, key: str = KEY):
    return post_raw(client, URL, json.dumps(body), {"Authorization": f"Bearer {key}"})


def _item(n: int, **fields) -> dict:
    return {
        "component": "payments-prod",
        "description": f"change {n}",
        "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
        **fields,
    }


def test_a_thousand_changes_with_twins_and_old_keys_are_each_stored_once(
    client, pipeline, correlation_runs, django_capture_on_commit_callbacks
):
    payments = ComponentFactory(name="payments-service")
    ComponentAliasFactory(component=payments, name="payments-prod")
    search = ComponentFactory(name="search")
    # Stored (and correlated) before: ten by the single-change endpoint, ten by a batch.
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(10):
            post_json(client, _item(n, description="first"), **{"Idempotency-Key": f"key-{n}"})
        earlier = post_batch(client, [_item(n, idempotency_key=f"key-{n}") for n in range(10, 20)])
    assert earlier.json()["recorded"] == 10
    old_ids = {change.idempotency_key: change.pk for change in ChangeEvent.objects.all()}
    # 1,000 items: keys 0-599 each once (0-19 stored already), keys 600-699 twice (the twin
    # comes 100 items later), 190 without a key, 10 invalid ones.
    items: list = []
    for n in range(1000):
        if n < 600:
            items.append(_item(n, idempotency_key=f"key-{n}", outcome="started" if n % 7 else None))
        elif n < 700:
            items.append(_item(n, idempotency_key=f"key-{n}", environment="production"))
        elif n < 800:
            items.append(_item(n, idempotency_key=f"key-{n - 100}", description="twin"))
        elif n < 990:
            items.append(_item(n, component="Search "))
        else:
            items.append(_item(n, kind="explosion"))
    items = [{key: value for key, value in item.items() if value is not None} for item in items]
    runs_before = len(correlation_runs)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_batch(client, {"changes": items})

    assert response.status_code == 202, response.content
    body = response.json()
    results = body["results"]
    assert [result["index"] for result in results] == list(range(1000))
    expected = ["duplicate"] * 20 + ["recorded"] * 680 + ["duplicate"] * 100
    expected += ["recorded"] * 190 + ["invalid"] * 10
    assert [result["status"] for result in results] == expected
    assert (body["recorded"], body["duplicates"], body["invalid"]) == (870, 120, 10)
    assert [results[n]["id"] for n in range(20)] == [old_ids[f"key-{n}"] for n in range(20)]
    assert [results[n]["id"] for n in range(700, 800)] == [
        results[n]["id"] for n in range(600, 700)
    ]
    assert results[995]["errors"] == {
        "changes.995.kind": [
            '"explosion" is not one of deployment, rollback, config, feature_flag, '
            "infrastructure, manual, other."
        ]
    }
    assert all(result["id"] is None for result in results[990:])
    recorded_ids = [result["id"] for result in results if result["status"] == "recorded"]
    assert len(set(recorded_ids)) == 870
    assert ChangeEvent.objects.count() == 20 + 870
    # Each new row as record_change stores it: span, component, pipeline, received time.
    changes = ChangeEvent.objects.in_bulk(recorded_ids)
    started = changes[results[22]["id"]]
    assert (started.outcome, started.started_at, started.finished_at) == (
        "started",
        T0 + timedelta(seconds=22),
        None,
    )
    succeeded = changes[results[28]["id"]]
    assert succeeded.outcome == "succeeded"
    assert succeeded.started_at == succeeded.finished_at == succeeded.occurred_at
    assert (succeeded.component, succeeded.resolved_component) == ("payments-prod", payments)
    assert (succeeded.summary, succeeded.description) == ("change 28", "change 28")
    assert (succeeded.same_as, succeeded.author, succeeded.correlated_at is not None) == (
        None,
        None,
        True,
    )
    assert succeeded.transitions[0]["key"] == "key-28" and succeeded.events == []
    assert succeeded.links == [] and succeeded.metadata == {}
    twin_of = changes[results[650]["id"]]
    assert (twin_of.description, twin_of.environment) == ("change 650", "production")
    unkeyed = changes[results[800]["id"]]
    assert (unkeyed.component, unkeyed.resolved_component, unkeyed.idempotency_key) == (
        "search",
        search,
        "",
    )
    received = {change.received_at for change in changes.values()}
    assert len(received) == 1 and {change.pipeline_id for change in changes.values()} == {
        pipeline.pk
    }
    assert ChangeEvent.objects.get(idempotency_key="key-3").description == "first"
    # One delivery record per request, and one correlation hand-off for the whole batch
    # (the worker takes the waiting changes in chunks).
    assert Delivery.objects.filter(event_type="batch").count() == 2
    assert len(callbacks) == 1 and sum(correlation_runs[runs_before:]) == 870


def test_a_retried_batch_answers_the_first_ids_and_is_not_correlated_again(
    client, pipeline, correlation_runs, django_capture_on_commit_callbacks
):
    items = [_item(n, idempotency_key=f"retry-{n}") for n in range(300)]
    with django_capture_on_commit_callbacks(execute=True):
        first = post_batch(client, items)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        retries = [post_batch(client, items) for _ in range(2)]

    first_ids = [result["id"] for result in first.json()["results"]]
    assert first.json()["recorded"] == 300
    for retry in retries:
        assert retry.status_code == 202
        assert [result["status"] for result in retry.json()["results"]] == ["duplicate"] * 300
        assert [result["id"] for result in retry.json()["results"]] == first_ids
    assert ChangeEvent.objects.count() == 300
    assert callbacks == []  # nothing new: nothing handed to correlation
    assert correlation_runs == [300]


def test_reports_by_identity_mixed_into_a_large_batch(client, pipeline):
    items = [_item(n, idempotency_key=f"k-{n}") for n in range(200)]
    items[50] = _item(50, deployment_id="rollout-1", outcome="started", idempotency_key="r-1")
    items[150] = _item(150, deployment_id="rollout-1", idempotency_key="r-2")
    items[151] = _item(151, deployment_id="rollout-1", idempotency_key="r-2")  # a redelivery
    items[199] = _item(199, idempotency_key="k-0")

    response = post_batch(client, items)

    results = response.json()["results"]
    statuses = [result["status"] for result in results]
    assert (statuses[50], statuses[150], statuses[151], statuses[199]) == (
        "recorded",
        "updated",
        "duplicate",
        "duplicate",
    )
    assert statuses.count("recorded") == 197
    rollout = ChangeEvent.objects.get(identity="rollout-1")
    assert results[50]["id"] == results[150]["id"] == results[151]["id"] == rollout.pk
    assert results[199]["id"] == results[0]["id"]
    assert (rollout.outcome, rollout.started_at, rollout.finished_at) == (
        "succeeded",
        T0 + timedelta(seconds=50),
        T0 + timedelta(seconds=150),
    )
    assert [entry["key"] for entry in rollout.transitions] == ["r-1", "r-2"]
    assert ChangeEvent.objects.count() == 197


def test_values_that_python_finds_equal_are_stored_as_sent(client, pipeline):
    """What all rows share is sent once: true and 1, 1 and 1.0 are equal in Python but not
    the same JSON, nor the same in the database."""
    items = [
        _item(0, ticket={"urgent": True}, links=[{"href": "https://ci.example.com/1"}]),
        _item(1, ticket={"urgent": 1}, links=[]),
        _item(2, ticket={"urgent": 1.0}),
        _item(3, environment="production", ticket={"urgent": True}),
    ]

    response = post_batch(client, items)

    ids = [result["id"] for result in response.json()["results"]]
    stored = ChangeEvent.objects.in_bulk(ids)
    assert [stored[change_id].metadata for change_id in ids] == [
        {"ticket": {"urgent": True}},
        {"ticket": {"urgent": 1}},
        {"ticket": {"urgent": 1.0}},
        {"ticket": {"urgent": True}},
    ]
    assert [type(stored[change_id].metadata["ticket"].get("urgent")) for change_id in ids] == [
        bool,
        int,
        float,
        bool,
    ]
    assert [stored[change_id].links for change_id in ids] == [
        [{"href": "https://ci.example.com/1", "text": ""}],
        [],
        [],
        [],
    ]
    assert [stored[change_id].environment for change_id in ids] == ["", "", "", "production"]


def _rollout_reports(rollouts: range, *, outcome: str, minute: int) -> list[dict]:
    return [
        _item(
            60 * minute,
            deployment_id=f"rollout-{n}",
            outcome=outcome,
            idempotency_key=f"rollout-{n}-{outcome}",
        )
        for n in rollouts
    ]


def test_rollouts_stored_before_and_new_ones_are_updated_in_one_batch(client, pipeline):
    # 100 rollouts started one by one, 100 not yet known. The batch finishes the first 100
    # (one report each, some sent twice), starts the next 100 and finishes half of them.
    for body in _rollout_reports(range(100), outcome="started", minute=0):
        assert post_json(client, body).status_code == 202
    known = dict(ChangeEvent.objects.values_list("identity", "id"))
    finished = _rollout_reports(range(100), outcome="succeeded", minute=5)
    started = _rollout_reports(range(100, 200), outcome="started", minute=1)
    failed = _rollout_reports(range(100, 150), outcome="failed", minute=6)
    items = [*finished, *started, *failed, *finished[:10]]

    response = post_batch(client, items)

    assert response.status_code == 202, response.content
    results = response.json()["results"]
    statuses = [result["status"] for result in results]
    assert (
        statuses == ["updated"] * 100 + ["recorded"] * 100 + ["updated"] * 50 + ["duplicate"] * 10
    )
    assert [result["id"] for result in results[:100]] == [known[f"rollout-{n}"] for n in range(100)]
    assert [result["id"] for result in results[250:]] == [known[f"rollout-{n}"] for n in range(10)]
    assert [result["id"] for result in results[200:250]] == [
        result["id"] for result in results[100:150]
    ]
    assert ChangeEvent.objects.count() == 200
    rollouts = {change.identity: change for change in ChangeEvent.objects.all()}
    done = rollouts["rollout-7"]
    assert (done.outcome, done.started_at, done.finished_at, done.correlated_at) == (
        "succeeded",
        T0,
        T0 + timedelta(minutes=5),
        None,
    )
    assert [entry["key"] for entry in done.transitions] == [
        "rollout-7-started",
        "rollout-7-succeeded",
    ]
    broken, running = rollouts["rollout-120"], rollouts["rollout-170"]
    assert (broken.outcome, broken.started_at, broken.finished_at) == (
        "failed",
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=6),
    )
    assert [entry["outcome"] for entry in broken.transitions] == ["started", "failed"]
    assert (running.outcome, running.finished_at, running.pipeline) == ("started", None, pipeline)


@postgres_only
def test_reports_by_identity_take_the_same_statements_for_ten_as_for_a_thousand(
    pipeline, django_assert_num_queries
):
    def reports(count: int, outcome: str) -> list[CanonicalChange]:
        return [
            CanonicalChange(
                component="payments",
                identity=f"rollout-{count}-{n}",
                outcome=outcome,
                occurred_at=T0 + timedelta(minutes=outcome == "succeeded"),
            )
            for n in range(count)
        ]

    # A savepoint pair, the components, the stored rollouts (none), the insert.
    for count in (10, 1000):
        with django_assert_num_queries(5):
            services.record_changes(pipeline=pipeline, changes=reports(count, "started"))
    # The stored rollouts, locked, and one UPDATE of them all.
    for count in (10, 1000):
        with django_assert_num_queries(5):
            answers = services.record_changes(
                pipeline=pipeline, changes=reports(count, "succeeded")
            )
        assert {status for _, status in answers} == {"updated"}
    assert set(ChangeEvent.objects.values_list("outcome", flat=True)) == {"succeeded"}


@postgres_only
def test_two_batches_starting_the_same_rollouts_at_once_make_each_once(real_worker):
    """The same new rollouts in two batches at the same instant: one batch inserts each, the
    other's insert skips it and applies its reports to the stored row."""
    pipeline_for("alert24")
    started = _rollout_reports(range(100), outcome="started", minute=0)
    finished = _rollout_reports(range(100), outcome="succeeded", minute=3)
    bodies = [started + finished[:50], finished[50:] + started[::-1]]

    answers = all_at_once([lambda client, body=body: post_batch(client, body) for body in bodies])

    assert [answer.status_code for answer in answers] == [202, 202], answers[0].content
    assert ChangeEvent.objects.count() == 100
    rollouts = {change.identity: change for change in ChangeEvent.objects.all()}
    for n in range(100):
        rollout = rollouts[f"rollout-{n}"]
        assert (rollout.outcome, rollout.started_at, rollout.finished_at) == (
            "succeeded",
            T0,
            T0 + timedelta(minutes=3),
        )
        assert sorted(entry["outcome"] for entry in rollout.transitions) == [
            "started",
            "succeeded",
        ]
    first, second = (answer.json() for answer in answers)
    assert first["recorded"] + second["recorded"] == 100
    assert first["updated"] + second["updated"] == 100


def _changes(count: int, *, prefix: str) -> list[CanonicalChange]:
    """Half keyed (each key twice), half not, on three components."""
    return [
        CanonicalChange(
            component=["payments-prod", "search", "other"][n % 3],
            summary=f"change {n}",
            idempotency_key=f"{prefix}-{n // 4}" if n % 2 else "",
        )
        for n in range(count)
    ]


@postgres_only
def test_a_batch_takes_the_same_statements_for_one_change_as_for_a_thousand(
    pipeline, django_assert_num_queries
):
    payments = ComponentFactory(name="payments-service")
    ComponentAliasFactory(component=payments, name="payments-prod")
    ComponentFactory(name="search")

    # A savepoint pair (inside the test's transaction), the components, the insert.
    for size in (1, 10, 1000):
        with django_assert_num_queries(4):
            services.record_changes(pipeline=pipeline, changes=_changes(size, prefix=f"n{size}"))
    # With keys stored before: one more, for the rows that have them.
    for size in (10, 1000):
        with django_assert_num_queries(5):
            answers = services.record_changes(
                pipeline=pipeline, changes=_changes(size, prefix=f"n{size}")
            )
        assert {status for _, status in answers} == {"duplicate", "recorded"}
    assert ChangeEvent.objects.filter(resolved_component=payments).count() > 300


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_identical_batches_at_once_store_each_change_once():
    pipeline_for("alert24")
    items = [_item(n, idempotency_key=f"same-{n}") for n in range(1000)]
    answers = all_at_once([lambda client: post_batch(client, items)] * 2)

    assert [answer.status_code for answer in answers] == [202, 202]
    first, second = (answer.json() for answer in answers)
    assert ChangeEvent.objects.count() == 1000
    assert sorted((first["recorded"], second["recorded"])) == [0, 1000]
    assert [r["id"] for r in first["results"]] == [r["id"] for r in second["results"]]
    assert set(ChangeEvent.objects.values_list("id", flat=True)) == {
        r["id"] for r in first["results"]
    }


@postgres_only
def test_overlapping_batches_at_once_store_each_change_once(real_worker):
    """Three batches sharing keys in three orders, each with keys of its own and changes
    without a key, at the same instant: each key once, each unkeyed change once. (A real
    worker correlates: each batch hands new changes over, and eager runs in three threads
    would wait on each other.)"""
    pipeline_for("alert24")
    bodies = [
        [_item(n, idempotency_key=f"shared-{n % 400}") for n in range(batch, 1200, 3)]
        + [_item(n, idempotency_key=f"own-{batch}-{n}") for n in range(100)]
        + [_item(n) for n in range(50)]
        for batch in range(3)
    ]
    answers = all_at_once([lambda client, body=body: post_batch(client, body) for body in bodies])

    assert [answer.status_code for answer in answers] == [202] * 3
    assert ChangeEvent.objects.count() == 400 + 300 + 150
    ids_by_key: dict[str, set[int]] = {}
    for body, answer in zip(bodies, answers, strict=True):
        for item, result in zip(body, answer.json()["results"], strict=True):
            ids_by_key.setdefault(item.get("idempotency_key", f"none-{result['id']}"), set()).add(
                result["id"]
            )
    assert all(len(ids) == 1 for ids in ids_by_key.values())
    assert sum(answer.json()["recorded"] for answer in answers) == 850


def test_a_cached_pipeline_naming_a_deleted_team_still_records_the_batch(transactional_db, client):
    # The first batch caches the pipeline; deleting its team sets the pipeline's team null by
    # one UPDATE (no signal), so the cached copy names a team whose foreign key fails at commit.
    # The batch is written once more, with the team read afresh, and nothing twice.
    team = TeamFactory()
    pipeline_for("alert24", team=team)
    assert post_batch(client, [_item(0, idempotency_key="before")]).status_code == 202
    team.delete()

    response = post_batch(client, [_item(1, idempotency_key="after"), _item(2)])

    assert response.status_code == 202, response.content
    assert [result["status"] for result in response.json()["results"]] == ["recorded"] * 2
    stored = ChangeEvent.objects.order_by("pk").values_list("idempotency_key", "team")
    assert list(stored) == [("before", None), ("after", None), ("", None)]
