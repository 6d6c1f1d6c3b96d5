"""The deployments page's strip chart is kept for a minute per filter set; the rows are not."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.changes.factories import ChangeEventFactory

# Transactional: nothing is cached from inside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def chart_total(client, query: str = "") -> int:
    return client.get(f"/{query}").context["chart"].total


def test_the_chart_is_kept_for_a_minute_and_the_rows_stay_live(logged_in_client):
    ChangeEventFactory(occurred_at=timezone.now() - timedelta(minutes=5), component="api")
    assert chart_total(logged_in_client) == 1

    newer = ChangeEventFactory(occurred_at=timezone.now(), component="web")
    response = logged_in_client.get("/")
    assert response.context["chart"].total == 1  # from the cache
    assert newer.pk in [change.pk for change in response.context["page"].items]
    assert chart_total(logged_in_client, "?component=web") == 1  # its own entry

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert chart_total(logged_in_client) == 2


def test_the_live_poll_counts_new_changes_and_a_reload_does_not_count_fewer(logged_in_client):
    first = ChangeEventFactory(environment="production")
    query = "?environment=production&span=24h"
    assert chart_total(logged_in_client, query) == 1  # cached for a minute

    ChangeEventFactory(environment="production")
    polled = logged_in_client.get(f"/changes/poll?after={first.pk}&environment=production&span=24h")
    loader = re.search(r'hx-get="(/changes/chart[^"]+)"', polled.content.decode())
    chart = logged_in_client.get(html.unescape(loader.group(1))).content.decode()
    assert "<strong>2</strong> changes" in chart  # exact, not the page's minute-old entry

    assert chart_total(logged_in_client, query) == 2  # the page's entry was dropped
