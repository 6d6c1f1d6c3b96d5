import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core.cache import cache
from django.db import connection
from django.test import Client
from redis.exceptions import RedisError

from config.celery import app
from tests.teams.factories import UserFactory

# Tests of PostgreSQL-only behaviour run in CI (.ci/run sets DATABASE_URL to the local server).
postgres_only = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL=postgres://… (CI does)",
)


@pytest.fixture
def user(db):
    return UserFactory(username="oncall")


@pytest.fixture
def logged_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters must not leak between tests (ids are reused after a rollback)."""
    cache.clear()
    yield


@pytest.fixture
def correlation_runs():
    """How many changes each correlation message handled (tests run tasks eagerly,
    on commit)."""
    runs: list[int] = []

    def count(sender=None, retval=None, **_):
        # Celery logs a receiver's exceptions rather than raising them: filter, don't assert.
        if sender.name == "incidents.correlate_pending_changes":
            runs.append(retval)

    task_postrun.connect(count, weak=False)
    yield runs
    task_postrun.disconnect(count)


@pytest.fixture
def redis_cache(settings):
    """The cache on the real Redis (a database of its own), as in production."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis: set REDIS_URL=redis://… (CI does)")
    # A database per xdist worker: clearing one must not empty another test's cache.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    location = os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{5 + worker}"
    settings.CACHES = {
        "default": {"BACKEND": "common.redis_cache.RedisCache", "LOCATION": location}
    }
    cache.clear()
    yield cache
    with contextlib.suppress(RedisError):  # a test may have pointed the cache elsewhere
        cache.clear()


@pytest.fixture
def database_unreachable(transactional_db):
    """The default connection pointed where no database is (a closed port; for SQLite, a
    directory that does not exist), restored afterwards."""
    original = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent/whatchanged.sqlite3"
    else:
        connection.settings_dict["PORT"] = "9"
    connection.close()
    yield
    connection.close()
    connection.settings_dict.update(original)


@pytest.fixture
def real_worker(transactional_db):
    """A real Celery worker (in a thread) consuming from the configured broker: Redis in CI."""
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = True


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll until the condition holds (a worker is doing the work), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def all_at_once(requests: list[Callable[[Client], Any]]) -> list[Any]:
    """Run each request in a thread of its own, with its own client and database connection,
    all released at the same moment (so locks and unique indexes decide, not the test)."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def run(index: int) -> None:
        try:
            client = Client()
            barrier.wait()
            answers[index] = requests[index](client)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
