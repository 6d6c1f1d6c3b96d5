"""The deployments view and the change page follow a change's lifecycle: one row per logical
change, its state as a badge, the live poll redrawing rows that finish, the status filter, and
the change page's lifecycle, reports and rollbacks. Through the test client; the changes of
the end-to-end tests go in through the real ingest endpoint and worker."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from pipelines.models import Delivery
from tests.changes.factories import ChangeEventFactory
from tests.changes.ingest import post_json
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import MembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def page(client, **params) -> str:
    response = client.get(reverse("changes:list"), params)
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """What a reader sees: tags dropped, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def row(html: str, change: ChangeEvent) -> str:
    found = re.search(rf'<tr id="change-{change.pk}".*?</tr>', html, re.DOTALL)
    assert found, f"no row for change {change.pk}"
    return found.group(0)


def badge(html: str) -> str:
    return text(re.search(r'<span class="badge outcome-[^"]+">.*?</span>', html).group(0))


def test_a_grouped_report_is_no_row_but_its_change_names_who_else_reported_it(logged_in_client):
    first = ChangeEventFactory(
        summary="Deploy from CI", pipeline=DeploymentPipelineFactory(name="GitHub production")
    )
    for name in ("Deploy script", "Terraform"):
        ChangeEventFactory(
            summary=f"Reported by {name}",
            same_as=first,
            pipeline=DeploymentPipelineFactory(name=name),
        )

    body = page(logged_in_client)

    assert "Deploy from CI" in body and "Reported by" not in body
    assert body.count('<tr id="change-') == 1
    assert "also reported by Deploy script, Terraform" in text(row(body, first))


def test_each_row_shows_its_state(logged_in_client):
    now = timezone.now()
    running = ChangeEventFactory(outcome="started", occurred_at=now - timedelta(minutes=4))
    took_six = ChangeEventFactory(
        outcome="succeeded",
        started_at=now - timedelta(minutes=10),
        occurred_at=now - timedelta(minutes=4),
    )
    instant = ChangeEventFactory(outcome="failed")
    cancelled = ChangeEventFactory(outcome="cancelled")
    rollback = ChangeEventFactory(kind="rollback")
    undone = ChangeEventFactory(outcome="succeeded", rolled_back_by=rollback)

    body = page(logged_in_client)

    assert badge(row(body, running)) == "rolling out · 4 min"
    assert badge(row(body, took_six)) == "succeeded · 6 min"
    assert badge(row(body, instant)) == "failed"
    assert badge(row(body, cancelled)) == "cancelled"
    assert badge(row(body, undone)) == "rolled back"
    # Only rows still rolling out ask the live poll about themselves.
    assert f'name="running" value="{running.pk}"' in body
    assert body.count('name="running"') == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("running", {"running"}),
        ("rolled_back", {"undone"}),
        ("succeeded", {"succeeded"}),  # a rolled-back success is rolled back, not succeeded
        ("cancelled", {"cancelled"}),
    ],
)
def test_the_status_filter(logged_in_client, status, expected):
    rollback = ChangeEventFactory(summary="rollback", kind="rollback", outcome="failed")
    for summary, outcome, undoer in (
        ("running", "started", None),
        ("succeeded", "succeeded", None),
        ("cancelled", "cancelled", None),
        ("undone", "succeeded", rollback),
    ):
        ChangeEventFactory(summary=summary, outcome=outcome, rolled_back_by=undoer)

    response = logged_in_client.get(reverse("changes:list"), {"status": status})

    assert {change.summary for change in response.context["page"].items} == expected
    assert f'<option value="{status}" selected>' in response.content.decode()


def test_links_made_before_the_status_filter_still_filter_by_outcome(logged_in_client):
    ChangeEventFactory(summary="Broke", outcome="failed")
    ChangeEventFactory(summary="Fine")
    body = page(logged_in_client, outcome="failed")
    assert "Broke" in body and "Fine" not in body
    assert 'name="outcome"' in body  # shown, so the reader sees what filters the page
    assert 'name="outcome"' not in page(logged_in_client)


def start(client, key: str, deployment_id: str, outcome: str, at, **fields):
    body = {
        "component": "payments-service",
        "environment": "production",
        "deployment_id": deployment_id,
        "outcome": outcome,
        "occurred_at": at.isoformat(),
        **fields,
    }
    response = post_json(client, body, key=key)
    assert response.status_code == 202, response.content
    return ChangeEvent.objects.get(pk=response.json()["id"])


def test_the_poll_redraws_a_row_once_its_change_finishes(client, logged_in_client):
    DeploymentPipelineFactory(key="ci-key")
    now = timezone.now()
    change = start(client, "ci-key", "run-7", "started", now - timedelta(minutes=4))
    listing = page(logged_in_client)
    assert badge(row(listing, change)) == "rolling out · 4 min"
    assert 'hx-include="closest tbody"' in listing  # the poll sends the running rows' ids
    poll = {"after": change.pk, "running": change.pk}

    nothing_yet = logged_in_client.get(reverse("changes:poll"), poll)
    assert nothing_yet.status_code == 204

    start(client, "ci-key", "run-7", "succeeded", now)
    response = logged_in_client.get(reverse("changes:poll"), poll)

    body = response.content.decode()
    assert response.status_code == 200
    redrawn = row(body, change)
    assert 'hx-swap-oob="true"' in redrawn and "data-new" not in redrawn
    assert badge(redrawn) == "succeeded · 4 min"
    assert 'name="running"' not in redrawn  # finished: no longer asked about
    assert f"after={change.pk}" in body and "running=" not in body  # the same cursor


def test_the_poll_brings_new_rows_and_finished_ones_together(logged_in_client):
    now = timezone.now()
    finished = ChangeEventFactory(outcome="started", occurred_at=now - timedelta(minutes=3))
    still_running = ChangeEventFactory(outcome="started", occurred_at=now - timedelta(minutes=3))
    new = ChangeEventFactory(summary="Just arrived")
    ChangeEvent.objects.filter(pk=finished.pk).update(
        outcome="failed", finished_at=now, occurred_at=now
    )

    response = logged_in_client.get(
        reverse("changes:poll"),
        {"after": still_running.pk, "running": [finished.pk, still_running.pk, "x"]},
    )

    body = response.content.decode()
    assert "data-new" in row(body, new) and "hx-swap-oob" not in row(body, new)
    assert badge(row(body, finished)) == "failed · 3 min"
    assert f'id="change-{still_running.pk}"' not in body
    assert f"after={new.pk}" in body


def test_a_filtered_page_still_redraws_its_rows(logged_in_client):
    """A row on the page shows its state even when it no longer matches the filters."""
    change = ChangeEventFactory(outcome="started")
    ChangeEvent.objects.filter(pk=change.pk).update(outcome="succeeded")
    response = logged_in_client.get(
        reverse("changes:poll"), {"after": change.pk, "running": change.pk, "status": "running"}
    )
    assert response.status_code == 200 and f'id="change-{change.pk}"' in response.content.decode()
    assert "status=running" in response.content.decode()  # the poller keeps the filters


def test_an_idle_poll_with_running_rows_costs_two_queries(
    logged_in_client, django_assert_num_queries
):
    changes = ChangeEventFactory.create_batch(3, outcome="started")
    url = reverse("changes:poll")
    params = {"after": changes[-1].pk, "running": [change.pk for change in changes]}
    logged_in_client.get(url, params)  # warm the session
    with django_assert_num_queries(4):  # session, user, new rows, rows no longer running
        assert logged_in_client.get(url, params).status_code == 204


def test_the_change_page_shows_its_lifecycle_reports_and_rollback(
    client, logged_in_client, user, django_capture_on_commit_callbacks
):
    team = MembershipFactory(user=user).team  # a member sees the reports' deliveries
    DeploymentPipelineFactory(key="ci-key", name="GitHub production", team=team)
    DeploymentPipelineFactory(key="script-key", name="Deploy script", team=team)
    at = timezone.now().replace(hour=14, minute=16, second=0, microsecond=0) - timedelta(days=1)
    release = {"version": "v4.7.0", "commit": "9e41c07b3d5a"}
    with django_capture_on_commit_callbacks(execute=True):  # the worker groups the reports
        change = start(client, "ci-key", "run-1", "started", at, **release)
        start(client, "ci-key", "run-1", "succeeded", at + timedelta(minutes=6), **release)
        other = start(client, "script-key", "", "succeeded", at + timedelta(minutes=1), **release)
    with django_capture_on_commit_callbacks(execute=True):  # ...and marks what it undoes
        rollback = start(
            client,
            "ci-key",
            "run-2",
            "succeeded",
            at + timedelta(minutes=30),
            kind="rollback",
            version="v4.7.0",
            summary="Roll back v4.7.0",
        )
    other.refresh_from_db()
    assert other.same_as_id == change.pk

    html = logged_in_client.get(reverse("changes:detail", args=[change.pk])).content.decode()

    shown = text(html)
    assert re.search(r"started [^·]*14:16 · succeeded [^·]*14:22 \(6 min\)", shown)
    assert re.search(r"Rolled back by Roll back v4\.7\.0", shown)
    assert reverse("changes:detail", args=[rollback.pk]) in html
    lifecycle = text(re.search(r'<ol class="transitions">.*?</ol>', html, re.DOTALL).group(0))
    assert re.fullmatch(r"started .*14:16 · received .* succeeded .*14:22 · received .*", lifecycle)
    reports = re.search(r'<table class="table reports">.*?</table>', html, re.DOTALL).group(0)
    assert re.search(r"GitHub production.*this page.*Deploy script", text(reports))
    for delivery in Delivery.objects.filter(object_id__in=[change.pk, other.pk]):
        assert f"#delivery-{delivery.pk}" in reports
    assert Delivery.objects.filter(object_id=change.pk).count() == 2
    assert reverse("changes:detail", args=[other.pk]) in reports

    grouped = logged_in_client.get(reverse("changes:detail", args=[other.pk]))
    grouped_text = text(grouped.content.decode())
    assert grouped.status_code == 200
    assert f"Another pipeline's report of payments-service v4.7.0 (change #{change.pk}" in (
        grouped_text
    )
    assert re.search(r"GitHub production.*Deploy script.* this page", grouped_text)

    undoing = logged_in_client.get(reverse("changes:detail", args=[rollback.pk]))
    assert "Rolled back payments-service v4.7.0" in text(undoing.content.decode())
    assert badge(row(page(logged_in_client), change)) == "rolled back"


def test_a_running_change_page_says_how_long_so_far(logged_in_client):
    change = ChangeEventFactory(outcome="started", occurred_at=timezone.now() - timedelta(hours=2))
    html = logged_in_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert re.search(r"started [^·]* · rolling out \(2 h so far\)", text(html))
    assert "Finished not yet" in text(html)
