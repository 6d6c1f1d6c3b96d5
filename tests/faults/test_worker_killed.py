"""A Celery worker process killed mid-task: the task is redelivered (acks_late with
reject_on_worker_lost) and its result is correct and stored once.

A real prefork worker in a subprocess, on the real Redis and PostgreSQL, on a queue of this
test's own. The task is held mid-way by a row lock the test takes on the incident; the child
process running it is killed with SIGKILL, then the lock is released.
"""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from config.celery import app
from incidents import tasks
from incidents.models import Incident, IncidentComponent, SuspectChange
from tests.changes.factories import ChangeEventFactory
from tests.conftest import postgres_only, wait_for
from tests.faults.processes import ROOT, database_url, production_env
from tests.incidents.factories import IncidentFactory

pytestmark = [
    postgres_only,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (CI has it)"),
]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.fixture
def queue():
    return f"faults-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def worker(transactional_db, queue):
    """`celery worker` (prefork, one child) on this test's database and queue."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and project
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         "--concurrency=1", f"--queues={queue}", "--loglevel=warning", "--without-heartbeat",
         "--without-mingle", "--without-gossip"],
        cwd=ROOT,
        env=production_env(),
    )  # fmt: skip
    # Consuming once its queue is bound: a message sent before that would have no route.
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    bound = wait_for(lambda: broker.exists(f"_kombu.binding.{queue}"), timeout=30)
    assert bound and children(process.pid), "the worker did not start"
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    broker.delete(queue, f"_kombu.binding.{queue}")


def test_a_killed_worker_process_has_its_task_redelivered_and_done_once(worker, queue):
    incident = IncidentFactory()
    IncidentComponent.objects.create(incident=incident, name="payments-service")
    changes = [ChangeEventFactory(occurred_at=incident.started_at, component="payments-service")]
    changes += [
        ChangeEventFactory(occurred_at=incident.started_at, component="search-api")
        for _ in range(3)
    ]

    with psycopg.connect(database_url()) as holder:  # holds the task mid-way
        holder.execute("SELECT 1 FROM incidents_incident WHERE id = %s FOR UPDATE", [incident.pk])
        app.conf.task_always_eager = False
        try:
            tasks.correlate_incident.apply_async(args=(incident.pk,), queue=queue)
        finally:
            app.conf.task_always_eager = True
        assert wait_for(waiting_on_a_lock, timeout=30), "the task never started"
        [child] = children(worker.pid)
        os.kill(child, signal.SIGKILL)
        assert wait_for(lambda: children(worker.pid) not in ([], [child]), timeout=30)
        holder.rollback()  # the lock goes; the redelivered task can run

    assert wait_for(
        lambda: Incident.objects.get(pk=incident.pk).correlated_at is not None, timeout=60
    ), "the task was not redelivered"
    suspects = list(SuspectChange.objects.filter(incident=incident).order_by("rank"))
    assert sorted(s.change_id for s in suspects) == sorted(c.pk for c in changes)  # each once
    assert suspects[0].change_id == changes[0].pk  # the component match ranks first
    assert [s.rank for s in suspects] == [1, 2, 3, 4]


def waiting_on_a_lock() -> bool:
    # A connection of its own, in autocommit: in a transaction pg_stat_activity is a snapshot.
    with psycopg.connect(database_url(), autocommit=True) as watcher:
        waiting = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).fetchone()
    return waiting[0] > 0
