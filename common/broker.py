"""A broker connection that gives up quickly: probes and scrapes must answer even when the
broker does not."""

from collections.abc import Iterator
from contextlib import contextmanager

from celery import current_app
from kombu import Connection

TIMEOUT_SECONDS = 2


@contextmanager
def broker_connection() -> Iterator[Connection]:
    """Connected, or raising (kombu raises transport-specific errors) within the timeout."""
    with current_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
        yield connection
