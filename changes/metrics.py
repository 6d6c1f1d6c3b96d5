"""The correlation backlog, for Prometheus: how long the oldest change has waited to be
ranked into incidents' suspects. Read at each scrape (one indexed query), so it grows when
the worker is down, when a lag histogram would simply stop."""

from collections.abc import Iterator

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from changes.models import ChangeEvent


class UncorrelatedChangesCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:  # uses the partial index on received_at WHERE correlated_at IS NULL
            oldest = (
                ChangeEvent.objects.filter(correlated_at=None)
                .order_by("received_at")
                .values_list("received_at", flat=True)
                .first()
            )
        except DatabaseError:
            return  # the database is down: no figure rather than a wrong one
        age = 0.0 if oldest is None else max((timezone.now() - oldest).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "whatchanged_uncorrelated_change_age_seconds",
            "How long the oldest change not yet correlated has waited (0 when none waits).",
            value=age,
        )
