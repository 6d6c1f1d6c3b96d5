"""PostgreSQL stopped and started again while producers post: clients get 503 with
Retry-After (never a 500, never a 2xx for an event that was not committed), and once the
database is back every acknowledged event is stored exactly once.

A real gunicorn (two worker processes, persistent database connections) on loopback, on the
test database and a Redis database of its own; four producer threads post changes and alerts,
each with an idempotency key (changes) or a unique alias (alerts), retrying on 503 as the
ingest contract asks. The local PostgreSQL server itself is stopped for a few seconds: this
test needs to be alone, so it is skipped under pytest-xdist and needs to be allowed to
restart the server (root, pg_ctlcluster), as CI is.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import pytest
import redis
from django.db import connections
from prometheus_client.parser import text_string_to_metric_families

from changes.models import ChangeEvent
from incidents.models import Incident
from tests.conftest import postgres_only, wait_for
from tests.faults.processes import ROOT, production_env
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory

PIPELINE_KEY = "restart-pipeline-key-0123456789"
SOURCE_KEY = "restart-source-key-0123456789"
METRICS_TOKEN = "restart-metrics-token"
PRODUCERS = 4
OUTAGE_SECONDS = 4

pytestmark = [
    postgres_only,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (CI has it)"),
    pytest.mark.skipif(
        int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1,
        reason="stops the PostgreSQL server: run without -n, alone (make test does)",
    ),
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("pg_ctlcluster"),
        reason="needs to stop and start the local PostgreSQL server (root, pg_ctlcluster)",
    ),
]


def postgresql(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(  # noqa: S603 - fixed arguments
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, "-m", "fast"]
        if action == "stop"
        else ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(transactional_db, tmp_path):
    """gunicorn with the production settings on this test's database."""
    port = free_port()
    redis_url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/13"
    env = production_env(
        REDIS_URL=redis_url,
        CONN_MAX_AGE="60",
        INGEST_RATE_LIMIT="0",
        METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and project
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--graceful-timeout", "5", "--no-control-socket"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: status_of(f"{base}/readyz") == 200, timeout=30), "no gunicorn"
    yield base
    process.terminate()
    process.wait(timeout=15)
    redis.Redis.from_url(redis_url).flushdb()


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class Producer:
    """Posts events one after another, each until it is acknowledged (retrying on 503)."""

    base: str
    number: int
    stop: threading.Event
    acknowledged: dict[str, int] = field(default_factory=dict)  # key or alias -> stored id
    refused: list[str] = field(default_factory=list)  # anything but 2xx and 503
    statuses: Counter = field(default_factory=Counter)
    missing_retry_after: int = 0

    def run(self) -> None:
        sent = 0
        while not self.stop.is_set():
            name = f"restart-{self.number}-{sent}"
            stored = self.deliver(name, alert=sent % 2 == 1)
            if stored is None:
                return
            self.acknowledged[name] = stored
            sent += 1

    def deliver(self, name: str, *, alert: bool) -> int | None:
        if alert:
            url, key = f"{self.base}/api/v1/incidents", SOURCE_KEY
            body = {"title": f"Alert {name}", "alias": name, "severity": "high"}
        else:
            url, key = f"{self.base}/api/v1/changes", PIPELINE_KEY
            body = {
                "description": f"Deploy {name}",
                "component": "payments",
                "idempotency_key": name,
            }
        request = urllib.request.Request(  # noqa: S310 - loopback
            url,
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    self.statuses[response.status] += 1
                    return json.loads(response.read())["id"]
            except urllib.error.HTTPError as error:
                self.statuses[error.code] += 1
                if error.code != 503:
                    self.refused.append(f"{name}: {error.code} {error.read()[:300]!r}")
                    return None
                self.missing_retry_after += error.headers.get("Retry-After") is None
            except OSError:
                self.statuses["no answer"] += 1
            time.sleep(0.2)  # a real producer waits Retry-After; the test keeps it short


def test_acknowledged_events_survive_a_database_restart_exactly_once(server):
    DeploymentPipelineFactory(kind="generic", key=PIPELINE_KEY)
    AlertSourceFactory(kind="generic", key=SOURCE_KEY)
    stop = threading.Event()
    producers = [Producer(server, number, stop) for number in range(PRODUCERS)]
    threads = [threading.Thread(target=producer.run) for producer in producers]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        postgresql("stop")
        time.sleep(OUTAGE_SECONDS)
    finally:
        postgresql("start")
    connections.close_all()  # this process's own connections died with the server
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert [refusal for producer in producers for refusal in producer.refused] == []
    statuses = sum((producer.statuses for producer in producers), Counter())
    assert set(statuses) <= {200, 202, 503}, statuses  # never a 500, never unanswered
    assert statuses[503] > 0, "the outage was not seen: nothing was tested"
    assert sum(producer.missing_retry_after for producer in producers) == 0
    acknowledged = {
        name: stored for producer in producers for name, stored in producer.acknowledged.items()
    }
    changes = dict(
        ChangeEvent.objects.filter(idempotency_key__startswith="restart-").values_list(
            "idempotency_key", "id"
        )
    )
    incidents = list(
        Incident.objects.filter(alias__startswith="restart-").values_list("alias", "id")
    )
    assert len(incidents) == len(dict(incidents))  # no alias raised twice
    stored = changes | dict(incidents)
    assert stored == acknowledged  # every acknowledged event, once, with the id it was given

    # The scrape adds up both gunicorn workers: every answer was counted once.
    counted = Counter()
    for family in text_string_to_metric_families(scrape(server)):
        for sample in family.samples:
            if sample.name == "whatchanged_ingest_requests_total":
                counted[int(sample.labels["status"])] += sample.value
    assert counted[503] == statuses[503]
    assert counted[202] + counted[200] == statuses[202] + statuses[200]
    print(  # the README's reliability figures come from this line
        f"\nrestart: {len(acknowledged)} events acknowledged, {len(stored)} stored, "
        f"{statuses[503]} answers 503 during a {OUTAGE_SECONDS}s outage, 0 answers 5xx other"
    )


def scrape(base: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read().decode()
