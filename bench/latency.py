"""End-to-end latencies against the running server and worker (run by bench.run).

- alert → suspects: the time from an alert's 2xx to its incident's suspects being stored
  (`correlated_at`), while changes are ingested at a steady rate beside it;
- live update: the time from a change's 2xx to the change showing on an open deployment-events
  page in Chromium (htmx polling), driven by Playwright.

Prints one JSON object.
"""

import json
import os
import random
import shutil
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from changes.models import ChangeEvent  # noqa: E402
from config.celery import app  # noqa: E402
from incidents.models import Incident  # noqa: E402

ALERTS_PER_SECOND = 2  # a storm of new incidents, beside the steady changes
# The deployments page's poll interval: each change is sent at a random moment within one, as
# changes arrive in life (sent right after the page showed the last, each would wait a whole
# interval).
POLL_SECONDS = 1
PASSWORD = "bench-only-password-0123456789"  # noqa: S105 - a throwaway bench user


def post(url: str, body: dict, key: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


class SteadyChanges(threading.Thread):
    """Posts changes at `rate` per second until stopped (a few connections, so that a slow
    answer does not lower the rate); counts what was acknowledged."""

    CONNECTIONS = 4

    def __init__(self, base: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.base, self.rate = base, rate
        self.stopped = threading.Event()
        self.sent = self.failed = 0
        self.seconds = 0.0
        self.lock = threading.Lock()

    def run(self) -> None:
        started = time.monotonic()
        senders = [
            threading.Thread(target=self.send, args=(started + n / self.rate,), daemon=True)
            for n in range(self.CONNECTIONS)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        self.seconds = time.monotonic() - started

    def send(self, due: float) -> None:
        while not self.stopped.is_set():
            try:
                post(
                    f"{self.base}/api/v1/changes",
                    {"component": "payments-service", "description": "steady deploy"},
                    "bench-generic-key-0001",
                )
                with self.lock:
                    self.sent += 1
            except OSError:
                with self.lock:
                    self.failed += 1
            due += self.CONNECTIONS / self.rate
            time.sleep(max(0.0, due - time.monotonic()))


def clear_backlog() -> dict:
    """Start from an idle worker: the ingest cases leave thousands of changes and a storm of
    synthetic incidents queued, whose draining is not what this measures. Their messages are
    purged, their changes marked correlated and their incidents closed two days ago (out of
    reach of new changes). Updated, not deleted: a task still running may be adding to them."""
    purged = app.control.purge()
    now = timezone.now()
    changes = ChangeEvent.objects.filter(correlated_at=None).update(correlated_at=now)
    incidents = Incident.objects.filter(title__startswith="Bench alarm").update(
        status=Incident.Status.RESOLVED, resolved_at=now - timedelta(days=2), correlated_at=now
    )
    return {"messages": purged, "changes": changes, "incidents": incidents}


def alert_to_suspects(base: str, alerts: int, change_rate: float) -> dict:
    backlog = clear_backlog()
    changes = SteadyChanges(base, change_rate)
    changes.start()
    time.sleep(1)  # the change load is steady before the first alert
    acknowledged: dict[int, float] = {}
    try:
        for number in range(alerts):
            answer = post(
                f"{base}/api/v1/incidents",
                {
                    "title": f"Latency alert {number}",
                    "alias": f"latency-{uuid.uuid4().hex}",
                    "severity": "high",
                    "components": ["payments-service"],
                },
                "bench-alert-key-0001",
            )
            acknowledged[answer["id"]] = time.time()
            time.sleep(1 / ALERTS_PER_SECOND)
        deadline = time.monotonic() + 60
        correlated: dict[int, float] = {}
        while len(correlated) < len(acknowledged) and time.monotonic() < deadline:
            rows = Incident.objects.filter(
                pk__in=acknowledged.keys() - correlated.keys(), correlated_at__isnull=False
            ).values_list("pk", "correlated_at")
            correlated.update({pk: at.timestamp() for pk, at in rows})
            time.sleep(0.05)
    finally:
        changes.stopped.set()
        changes.join()
        # Close the incidents: later cases should not correlate changes against a storm.
        Incident.objects.filter(pk__in=acknowledged).update(
            status=Incident.Status.RESOLVED, resolved_at=timezone.now()
        )
    latencies = sorted(
        (correlated[pk] - at) * 1000 for pk, at in acknowledged.items() if pk in correlated
    )
    return {
        "alerts": alerts,
        "backlog_cleared": backlog,
        "changes_per_second": round(changes.sent / changes.seconds, 1),
        "change_errors": changes.failed,
        "correlated": len(latencies),
        **percentiles(latencies),
    }


def live_update(base: str, changes: int) -> dict:
    from playwright.sync_api import sync_playwright

    user, _ = get_user_model().objects.get_or_create(username="bench-live")
    user.set_password(PASSWORD)
    user.save()
    latencies = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(base_url=base)
        page.goto("/login/")
        page.get_by_label("Username").fill("bench-live")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/")
        for _ in range(changes):
            time.sleep(random.uniform(0, POLL_SECONDS))
            description = f"live {uuid.uuid4().hex}"
            post(
                f"{base}/api/v1/changes",
                {"component": "payments-service", "description": description},
                "bench-generic-key-0001",
            )
            acknowledged = time.monotonic()
            page.get_by_text(description).wait_for(timeout=30_000)
            latencies.append((time.monotonic() - acknowledged) * 1000)
        browser.close()
    return {"changes": changes, **percentiles(sorted(latencies))}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    return {
        "p50_ms": round(statistics.median(values)),
        "p95_ms": round(values[max(0, int(len(values) * 0.95) - 1)]),
        "max_ms": round(values[-1]),
    }


def main(base: str, alerts: int, change_rate: float, live_changes: int) -> None:
    print(
        json.dumps(
            {
                "alert to suspects": alert_to_suspects(base, alerts, change_rate),
                "live update": live_update(base, live_changes),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
