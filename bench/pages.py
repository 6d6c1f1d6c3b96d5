"""Server time of the busiest pages and of correlation, on the big history (run by bench.run).

In-process with the Django test client against the benchmark database: what the server spends,
without the network. Prints one JSON object.
"""

import json
import os
import random
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from changes.models import ChangeEvent  # noqa: E402
from common.pagination import encode_cursor  # noqa: E402
from incidents import correlation  # noqa: E402
from incidents.models import Incident  # noqa: E402


def timed(call, samples: int) -> dict:
    durations, queries = [], 0
    call()  # warm caches, as a second visitor would find them
    for _ in range(samples):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            call()
            durations.append((time.perf_counter() - started) * 1000)
        queries = len(captured)
        reset_queries()
    durations.sort()
    return {
        "p50_ms": round(statistics.median(durations), 1),
        "p95_ms": round(durations[int(len(durations) * 0.95) - 1], 1),
        "queries": queries,
    }


def main(samples: int) -> None:
    user, _ = get_user_model().objects.get_or_create(username="bench-reader")
    client = Client()
    client.force_login(user)

    def page(url: str):
        def call() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return call

    deep = ChangeEvent.objects.order_by("-occurred_at", "-id").values_list("occurred_at", "id")
    position = deep[min(10_000, ChangeEvent.objects.count() - 1)]
    component = ChangeEvent.objects.order_by("-id").values_list("component", flat=True).first()
    team = (
        ChangeEvent.objects.exclude(pipeline__team=None)
        .values_list("pipeline__team__slug", flat=True)
        .first()
    )
    newest = ChangeEvent.objects.order_by("-id").values("environment", "pipeline_id").first()
    # An engineer pasting a commit from the middle of the history: the time index alone would
    # scan half the table to find it.
    middle = ChangeEvent.objects.order_by("-occurred_at", "-id").values_list("commit", flat=True)
    commit = middle[ChangeEvent.objects.count() // 2][:7]
    incident_ids = list(Incident.objects.values_list("id", flat=True)[:5000])
    # The incidents list's filters, each with a value the newest incident has; "Load older" is
    # the resolved incidents' second page, as its link asks for it.
    newest_incident = (
        Incident.objects.order_by("-started_at", "-id")
        .values("team__slug", "alert_source__name", "components__name")
        .first()
    )
    resolved = Incident.objects.filter(status="resolved").order_by("-started_at", "-id")
    second_page = resolved.values_list("started_at", "id")[49]
    pages = {
        "deployments, first page": "/",
        "deployments, by team": f"/?team={team}",
        "deployments, by component": f"/?component={component}",
        "deployments, by environment": f"/?environment={newest['environment']}",
        "deployments, by pipeline": f"/?pipeline={newest['pipeline_id']}",
        "deployments, rollbacks": "/?kind=rollback",
        "deployments, failed in 7 d": "/?outcome=failed&range=7d",
        "deployments, search v4 (2 letters)": "/?q=v4",
        "deployments, search a commit": f"/?q={commit}",
        "deployments, 10,000 deep": f"/?before={encode_cursor(*position)}",
        "incident page": f"/incidents/{incident_ids[len(incident_ids) // 2]}/",
        "incidents list": "/incidents/",
        "incidents list, resolved": "/incidents/?status=resolved",
        "incidents list, open": "/incidents/?status=triggered",
        "incidents list, critical": "/incidents/?severity=critical",
        "incidents list, by team": f"/incidents/?team={newest_incident['team__slug']}",
        "incidents list, by source": f"/incidents/?source={newest_incident['alert_source__name']}",
        "incidents list, by component": (
            f"/incidents/?component={newest_incident['components__name']}"
        ),
        "incidents list, Load older": f"/incidents/?before={encode_cursor(*second_page)}",
    }
    results = {name: timed(page(url), samples) for name, url in pages.items()}

    # What an open deployments page costs while nothing happens: one poll a second.
    idle_poll = f"/changes/poll?after={ChangeEvent.objects.order_by('-id').first().pk}"

    def poll() -> None:
        assert client.get(idle_poll).status_code == 204

    results["deployments, idle live poll"] = timed(poll, samples)

    chosen = random.Random(7).sample(incident_ids, min(100, len(incident_ids)))
    iterator = iter(chosen * 2)
    results["correlate one incident"] = timed(
        lambda: correlation.correlate_incident(incident_id=next(iterator)), len(chosen) - 1
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
