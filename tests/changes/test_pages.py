"""The deployment-events pages through the test client: filters in the URL, htmx fragments,
the live poll, the chart, the manual form, escaping and query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from changes.filters import ChangeFilter
from changes.models import ChangeEvent
from tests.changes.factories import ChangeEventFactory
from tests.conftest import postgres_only
from tests.incidents.factories import SuspectChangeFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def page(client, **params) -> str:
    response = client.get(reverse("changes:list"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_filters_narrow_the_list_and_live_in_the_url(logged_in_client):
    payments = TeamFactory(slug="payments", name="Payments")
    ChangeEventFactory(
        component="payments-service",
        summary="Pay deploy",
        pipeline=DeploymentPipelineFactory(team=payments),
    )
    ChangeEventFactory(component="search-api", summary="Search deploy", outcome="failed")

    assert "Search deploy" not in page(logged_in_client, team="payments")
    assert "Pay deploy" not in page(logged_in_client, outcome="failed")
    assert "Pay deploy" not in page(logged_in_client, q="search")
    both = page(logged_in_client)
    assert "Pay deploy" in both and "Search deploy" in both
    assert 'hx-push-url="true"' in both


@pytest.mark.parametrize(
    ("words", "found"),
    [
        ("v4.7", {"payments"}),  # version
        ("9E41C07", {"payments"}),  # commit, any case
        ("flag rollout", {"search"}),  # every word, in the description
        ("SEARCH-api", {"search"}),  # component
        ("deploy", {"payments", "search"}),
        ("deploy nowhere", set()),
    ],
)
def test_search_looks_in_every_text_field_for_every_word(logged_in_client, words, found):
    ChangeEventFactory(
        component="payments-service", summary="Pay deploy", version="v4.7.0", commit="9e41c07b3d"
    )
    ChangeEventFactory(
        component="search-api", summary="Search deploy", description="Feature flag rollout"
    )

    body = page(logged_in_client, q=words)

    assert ("Pay deploy" in body, "Search deploy" in body) == (
        "payments" in found,
        "search" in found,
    )


@postgres_only
def test_the_search_is_answered_by_the_trigram_index():
    """The filter's expression and the index's must stay the same, or every search scans."""
    queryset = ChangeFilter({"q": "payments"}, queryset=ChangeEvent.objects.all()).qs
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few test rows: force the choice
        plan = queryset.order_by().explain()

    assert "change_search_idx" in plan


def test_a_filter_change_gets_the_results_fragment(logged_in_client):
    ChangeEventFactory(summary="Deploy one")
    response = logged_in_client.get(reverse("changes:list"), {"kind": "deployment"}, headers=HTMX)
    body = response.content.decode()
    assert 'id="results"' in body and "<html" not in body and "Deploy one" in body


def test_time_range_and_unknown_filters(logged_in_client):
    ChangeEventFactory(summary="Old one", occurred_at=timezone.now() - timedelta(days=3))
    ChangeEventFactory(summary="New one")
    assert "Old one" not in page(logged_in_client, range="24h")
    assert "Old one" in page(logged_in_client, range="7d")
    assert "not understood" in page(logged_in_client, kind="explosion")


def test_rows_are_grouped_by_day_and_load_older_by_keyset(logged_in_client):
    now = timezone.now()
    changes = [ChangeEventFactory(occurred_at=now - timedelta(hours=3 * i)) for i in range(60)]
    first = logged_in_client.get(reverse("changes:list"))
    assert 'class="day"' in first.content.decode()
    cursor = first.context["page"].next_cursor
    older = logged_in_client.get(reverse("changes:list"), {"before": cursor}, headers=HTMX)
    shown = {c.pk for c in first.context["page"].items} | {
        c.pk for c in older.context["page"].items
    }
    assert shown == {c.pk for c in changes}
    assert "<html" not in older.content.decode()


def test_the_poll_answers_204_with_one_query_when_nothing_is_new(logged_in_client):
    change = ChangeEventFactory()
    url = reverse("changes:poll")
    logged_in_client.get(url, {"after": change.pk})  # warm the session
    with CaptureQueriesContext(connection) as captured:
        response = logged_in_client.get(url, {"after": change.pk})
    assert response.status_code == 204
    assert len(captured) == 3  # session, user, the poll itself


def test_the_poll_returns_new_rows_and_a_fresh_cursor(logged_in_client):
    old = ChangeEventFactory(summary="Already shown")
    new = ChangeEventFactory(summary="Just arrived", component="<b>evil</b>")
    response = logged_in_client.get(reverse("changes:poll"), {"after": old.pk})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Just arrived" in body and "Already shown" not in body
    assert f"after={new.pk}" in body and "data-new" in body
    assert "<b>evil</b>" not in body


def test_the_poll_respects_the_filters(logged_in_client):
    old = ChangeEventFactory()
    ChangeEventFactory(environment="staging")
    response = logged_in_client.get(
        reverse("changes:poll"), {"after": old.pk, "environment": "production"}
    )
    assert response.status_code == 204


def test_the_chart_counts_the_filtered_changes_per_hour(logged_in_client):
    ChangeEventFactory.create_batch(3, environment="production")
    ChangeEventFactory(environment="production", outcome="failed")
    ChangeEventFactory(environment="staging")
    response = logged_in_client.get(reverse("changes:list"), {"environment": "production"})
    chart = response.context["chart"]
    assert (chart.total, chart.failed, len(chart.bars)) == (4, 1, 24)
    week = logged_in_client.get(reverse("changes:list"), {"span": "7d"}).context["chart"]
    assert len(week.bars) == 168 and week.total == 5


@pytest.mark.parametrize("count", [10, 1000])
def test_the_page_costs_a_constant_number_of_queries(
    logged_in_client, count, django_assert_max_num_queries
):
    pipeline = DeploymentPipelineFactory()
    now = timezone.now()
    changes = ChangeEvent.objects.bulk_create(
        ChangeEvent(
            pipeline=pipeline,
            occurred_at=now - timedelta(minutes=i),
            received_at=now,
            component=f"service-{i % 7}",
            summary=f"Deploy {i}",
        )
        for i in range(count)
    )
    other = DeploymentPipelineFactory(name="Deploy script")
    ChangeEvent.objects.bulk_create(  # another pipeline's reports of every third change
        ChangeEvent(
            pipeline=other,
            same_as=change,
            occurred_at=change.occurred_at,
            received_at=now,
            component=change.component,
        )
        for change in changes[::3]
    )
    assert "also reported by Deploy script" in page(logged_in_client)
    # 10: the session, the user, the rows, the other pipelines' reports of them (one query for
    # all rows), the poll's cursor, the chart, the team and pipeline options; and the team; and
    # the open-incident banner (count and newest in one).
    with django_assert_max_num_queries(10):
        page(logged_in_client)
    with django_assert_max_num_queries(10):
        page(logged_in_client, team="x", q="deploy", range="7d")


def test_detail_shows_every_field_escaped_and_where_it_is_a_suspect(logged_in_client):
    change = ChangeEventFactory(
        component="<script>alert(1)</script>",
        metadata={"note": "<img src=x onerror=alert(2)>", "nested": {"k": [1, 2]}},
        links=[
            {"href": "javascript:alert(3)", "text": "bad"},
            {"href": "https://ci.example.com/1", "text": "run"},
        ],
    )
    suspect = SuspectChangeFactory(change=change, reasons=["component match", "8 minutes before"])

    body = logged_in_client.get(reverse("changes:detail", args=[change.pk])).content.decode()

    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    assert "<img src=x" not in body and "javascript:alert" not in body
    assert "https://ci.example.com/1" in body
    assert "&quot;nested&quot;: {" in body  # pretty-printed JSON
    assert suspect.incident.title in body and "8 minutes before" in body
    assert logged_in_client.get(reverse("changes:detail", args=[999999])).status_code == 404


def test_the_manual_form_shows_errors_inline_then_records_the_change(
    logged_in_client, user, django_capture_on_commit_callbacks
):
    url = reverse("changes:new")
    form_page = logged_in_client.get(url).content.decode()
    assert 'type="datetime-local"' in form_page

    bad = logged_in_client.post(
        url,
        {
            "component": "",
            "summary": "",
            "kind": "manual",
            "environment": "production",
            "occurred_at": "not a time",
            "links": "ftp://x",
        },
        headers=HTMX,
    )
    body = bad.content.decode()
    assert bad.status_code == 400 and "<html" not in body
    assert body.count('role="alert"') >= 3 and "Not an http(s) link" in body
    assert not ChangeEvent.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
        good = logged_in_client.post(
            url,
            {
                "component": "Payments-Service",
                "summary": "Flushed the CDN cache",
                "kind": "config",
                "environment": "production",
                "occurred_at": now,
                "links": "https://tickets.example.com/OPS-1",
                "description": "by hand",
            },
            headers=HTMX,
        )
    assert good.status_code == 200 and good["HX-Redirect"] == reverse("changes:list")
    change = ChangeEvent.objects.get()
    assert (change.component, change.kind, change.pipeline) == ("payments-service", "config", None)
    assert change.author == user and change.triggered_by == user.get_username()
    assert change.links == [{"href": "https://tickets.example.com/OPS-1", "text": ""}]
    assert change.correlated_at is not None  # handed to correlation like any other
    assert "Flushed the CDN cache" in page(logged_in_client)


def test_a_future_change_is_refused(logged_in_client):
    later = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "component": "api",
        "summary": "x",
        "kind": "manual",
        "environment": "prod",
        "occurred_at": later,
    }
    response = logged_in_client.post(reverse("changes:new"), form)
    assert response.status_code == 400 and "has not happened yet" in response.content.decode()


def test_occurred_at_is_read_in_the_viewers_time_zone(logged_in_client):
    logged_in_client.post(reverse("profile"), {"time_zone": "Europe/Berlin"})
    form = {
        "component": "api",
        "summary": "x",
        "kind": "manual",
        "environment": "prod",
        "occurred_at": "2026-01-15T10:00",
    }
    logged_in_client.post(reverse("changes:new"), form)
    assert ChangeEvent.objects.get().occurred_at.isoformat() == "2026-01-15T09:00:00+00:00"


def test_component_suggestions_come_from_the_catalog(logged_in_client):
    ComponentFactory(name="payments-service")
    ComponentFactory(name="checkout-api")
    body = logged_in_client.get(
        reverse("changes:component-suggestions"), {"component": "pay"}
    ).content.decode()
    assert '<option value="payments-service">' in body and "checkout-api" not in body


def test_the_manual_form_needs_csrf(client, user):
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post(reverse("changes:new"), {}).status_code == 403


def test_times_are_shown_in_the_viewers_time_zone(logged_in_client):
    ChangeEventFactory(occurred_at=timezone.now().replace(hour=12, minute=30, second=0))
    assert ">12:30<" in page(logged_in_client)  # no zone on the profile yet: UTC
    logged_in_client.post(reverse("profile"), {"time_zone": "Asia/Kolkata"})
    assert ">18:00<" in page(logged_in_client)


# --- Kinds of change ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ChangeEvent.Kind.values)
def test_the_kind_filter_offers_and_narrows_to_every_kind(logged_in_client, kind):
    for each in ChangeEvent.Kind.values:
        ChangeEventFactory(kind=each, summary=f"A {each} change")

    body = page(logged_in_client, kind=kind)

    assert f'<option value="{kind}" selected>' in body
    shown = {each for each in ChangeEvent.Kind.values if f"A {each} change" in body}
    assert shown == {kind}


def test_each_row_carries_its_kinds_colour(logged_in_client):
    ChangeEventFactory(kind="feature_flag", summary="Turned on checkout-new-pricing")
    ChangeEventFactory(kind="infrastructure", summary="Applied payments-db")

    body = page(logged_in_client)

    assert '<span class="change-kind kind-feature_flag">Feature flag</span>' in body
    assert '<span class="change-kind kind-infrastructure">Infrastructure</span>' in body


def test_the_chart_stacks_each_hour_by_kind_above_its_failures(logged_in_client):
    ChangeEventFactory.create_batch(2, kind="deployment")
    ChangeEventFactory(kind="deployment", outcome="failed")
    ChangeEventFactory(kind="feature_flag")

    response = logged_in_client.get(reverse("changes:list"))
    chart = response.context["chart"]
    bar = next(bar for bar in chart.bars if bar.total)
    body = response.content.decode()

    assert (bar.total, bar.failed) == (4, 1)
    assert [(s.kind, s.total) for s in bar.segments] == [("deployment", 3), ("feature_flag", 1)]
    # Stacked without gaps: failures at the foot, then each kind's changes that did not fail.
    assert bar.failed_y == 36.0
    assert [(s.y, s.height) for s in bar.segments] == [(12.0, 24.0), (0.0, 12.0)]
    assert '<rect class="bar kind-feature_flag"' in body and 'class="bar-failed"' in body
    assert "4 changes (deployment 3, feature flag 1), 1 failed" in body
    assert [(k.kind, k.total) for k in chart.kinds] == [("deployment", 3), ("feature_flag", 1)]
    assert '<span class="change-kind kind-failed">Failed</span>' in body
