"""Prometheus metrics (prometheus-client), served at /metrics by common.health.

With several processes (gunicorn workers, the Celery worker's children) each one writes its
figures to files in PROMETHEUS_MULTIPROC_DIR and a scrape adds them up: set it to an empty
folder shared by the web server and the worker (`make run` and `make serve` do). Without it,
a scrape shows the answering process only.

Queue depths and the correlation backlog (changes/metrics.py) are read from the broker and
the database at scrape time, so they are right even when no worker is running.
"""

import os
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from common.broker import broker_connection

INGEST_REQUESTS = Counter(
    "whatchanged_ingest_requests",
    "Ingest requests, by integration, kind, outcome and HTTP status.",
    ["integration", "kind", "outcome", "status"],
)
INGEST_SECONDS = Histogram(
    "whatchanged_ingest_duration_seconds",
    "Time to answer an ingest request.",
    ["integration"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CORRELATION_LAG = Histogram(
    "whatchanged_correlation_lag_seconds",
    "From a change or incident committed to its suspects stored.",
    ["event"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)


def observe_ingest(
    *, integration: str, kind: str, outcome: str, status: int, seconds: float
) -> None:
    INGEST_REQUESTS.labels(integration, kind, outcome, str(status)).inc()
    INGEST_SECONDS.labels(integration).observe(seconds)


def observe_correlation_lag(event: str, committed_at: datetime, now: datetime) -> None:
    CORRELATION_LAG.labels(event).observe(max((now - committed_at).total_seconds(), 0.0))


class QueueDepthCollector(Collector):
    """Messages waiting in each Celery queue, asked of the broker at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "whatchanged_celery_queue_depth",
            "Messages waiting in each Celery queue.",
            labels=["queue"],
        )
        for queue, count in _queue_depths().items():
            depth.add_metric([queue], count)
        yield depth


def _queue_depths() -> dict[str, int]:
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE}
    queues |= {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    depths = {}
    try:
        with broker_connection() as connection:
            channel = connection.default_channel
            for queue in sorted(queues):
                try:
                    declared = channel.queue_declare(queue=queue, passive=True)
                except connection.channel_errors:  # no worker declared it yet: nothing waits
                    depths[queue] = 0
                else:
                    depths[queue] = declared.message_count
    except Exception:  # kombu raises transport-specific errors; the missing figure says it
        return {}
    return depths


# Collectors read at scrape time; apps add theirs in AppConfig.ready().
SCRAPE_TIME = CollectorRegistry()
SCRAPE_TIME.register(QueueDepthCollector())


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(SCRAPE_TIME), CONTENT_TYPE_LATEST
