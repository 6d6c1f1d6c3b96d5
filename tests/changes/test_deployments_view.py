"""The deployments view through the test client: one line per change, the description's first
line, the open-incident banner and its poll, the live poll's rows under their day's header and
the chart redrawn with them, the phone's "Filters (n)" count, and what each of them costs."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from incidents.models import Incident
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import TeamFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def page(client, **params) -> str:
    response = client.get(reverse("changes:list"), params)
    assert response.status_code == 200
    return response.content.decode()


def row(html: str, change: ChangeEvent) -> str:
    found = re.search(rf'<tr id="change-{change.pk}".*?</tr>', html, re.DOTALL)
    assert found, f"no row for change {change.pk}"
    return found.group(0)


def cell(row_html: str, name: str) -> str:
    """The inside of a row's cell by its class, tags kept."""
    found = re.search(rf'<td class="{name}"[^>]*>(.*?)</td>', row_html, re.DOTALL)
    assert found, f"no {name} cell"
    return found.group(1).strip()


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def poll(client, after: int, **params):
    return client.get(reverse("changes:poll"), {"after": after, **params})


def chart_after(client, poll_body: str) -> str:
    """The chart the page fetches once a poll's rows are in (the poll's chart loader)."""
    loader = re.search(r'<div id="chart-refresh" hx-swap-oob="true" hx-get="([^"]+)"', poll_body)
    assert loader, "the poll brings no chart loader"
    response = client.get(html.unescape(loader.group(1)))
    assert response.status_code == 200
    return response.content.decode()


# --- One line per change ------------------------------------------------------------------------


def test_a_row_has_one_cell_per_field_and_the_descriptions_first_line(logged_in_client):
    change = ChangeEventFactory(
        component="payments-service",
        version="v4.7.0",
        environment="production",
        kind="deployment",
        outcome="succeeded",
        triggered_by="dana-ops",
        pipeline=DeploymentPipelineFactory(name="payments-github", team=TeamFactory(name="Pay")),
        summary="Deploy payments-service v4.7.0 to production",  # says nothing the cells don't
        description="Retry card authorisations on gateway timeouts (#812)\n\nThe gateway <b>",
        links=[{"href": "https://ci.example.com/run/1", "text": "CI run"}],
        commit="9e41c07b3d",
    )

    line = row(page(logged_in_client), change)

    assert text(cell(line, "component-cell")) == "payments-service"
    assert cell(line, "version") == '<code title="v4.7.0">v4.7.0</code>'
    assert cell(line, "environment") == "production"
    assert text(cell(line, "kind-cell")) == "Deployment"
    assert text(cell(line, "status")) == "succeeded"
    assert cell(line, "who") == "dana-ops"
    assert text(cell(line, "pipeline-cell")) == "payments-github · Pay"
    assert text(cell(line, "links")) == "CI run 9e41c07"
    # The summary only restates the cells: the text cell shows the description's first line,
    # muted, and the whole (escaped) on hover.
    assert cell(line, "summary") == (
        '<span class="muted description">Retry card authorisations on gateway timeouts (#812)'
        "</span>"
    )
    title = re.search(r'<td class="summary" title="([^"]*)"', line, re.DOTALL).group(1)
    assert title == (
        "Deploy payments-service v4.7.0 to production\n"
        "Retry card authorisations on gateway timeouts (#812)\n\nThe gateway &lt;b&gt;"
    )
    assert "<code>v4.7.0</code>" not in cell(line, "summary")  # the version has its own cell


def test_a_summary_with_news_is_shown_before_the_description(logged_in_client):
    manual = ChangeEventFactory(
        pipeline=None,
        kind="manual",
        summary="Raised the DB pool to 50 by hand",
        description="",
    )
    both = ChangeEventFactory(summary="Fix <checkout> totals", description="Rounding\nmore")
    same = ChangeEventFactory(summary="Deploy v7.7.7 (live)", description="Deploy v7.7.7 (live)")

    body = page(logged_in_client)

    assert cell(row(body, manual), "summary") == (
        '<span class="summary-text">Raised the DB pool to 50 by hand</span>'
    )
    assert cell(row(body, both), "summary") == (
        '<span class="summary-text">Fix &lt;checkout&gt; totals</span> '
        '<span class="muted description">Rounding</span>'
    )
    assert text(cell(row(body, same), "summary")) == "Deploy v7.7.7 (live)"  # once


@pytest.mark.parametrize(
    ("summary", "shown"),
    [
        ("Deployment payments-db v5.4.7 to production", False),
        ("payments-db pipeline execution succeeded", False),
        ("Infrastructure payments-db v5.4.7 to production", False),
        ("Push to main", True),
        ("Deploy payments-db v5.4.7 with the new pool size", True),
    ],
)
def test_a_summary_is_left_out_when_it_only_restates_the_row(logged_in_client, summary, shown):
    change = ChangeEventFactory(
        component="payments-db", version="v5.4.7", kind="infrastructure", summary=summary
    )
    text_cell = cell(row(page(logged_in_client), change), "summary")
    assert ("summary-text" in text_cell) is shown


def test_the_change_page_shows_the_whole_description(logged_in_client):
    change = ChangeEventFactory(description="First line\nSecond line")
    body = logged_in_client.get(reverse("changes:detail", args=[change.pk])).content.decode()
    assert "First line\nSecond line" in body


# --- The open-incident banner -------------------------------------------------------------------


def banner(html: str) -> str:
    found = re.search(r'<div id="open-incidents-banner".*?</div>', html, re.DOTALL)
    assert found, "no banner"
    return found.group(0)


def test_the_banner_is_hidden_while_no_incident_is_open(logged_in_client):
    IncidentFactory(title="Long over", status="resolved")
    shown = banner(page(logged_in_client))
    assert " hidden" in shown and "Long over" not in shown and "open incident" not in shown


def test_the_banner_names_the_open_incident_and_links_to_it(logged_in_client):
    incident = IncidentFactory(title="<i>HighErrorRate</i>")

    shown = banner(page(logged_in_client))

    assert " hidden" not in shown
    assert "1 open incident<" in shown
    assert f'<a href="{reverse("incidents:detail", args=[incident.pk])}">' in shown
    assert "&lt;i&gt;HighErrorRate&lt;/i&gt;" in shown and "<i>" not in shown
    assert reverse("incidents:list") + '"' not in shown  # one: no list to see


def test_with_several_open_the_banner_counts_them_and_links_to_the_list(logged_in_client):
    now = timezone.now()
    IncidentFactory(title="Older", started_at=now - timedelta(hours=1))
    IncidentFactory(title="Acknowledged one", status="acknowledged", started_at=now)
    IncidentFactory(title="Resolved", status="resolved", started_at=now)

    shown = text(banner(page(logged_in_client)))

    assert shown == "2 open incidents newest: Acknowledged one See all 2"
    assert f'href="{reverse("incidents:list")}"' in banner(page(logged_in_client))


def test_the_banners_poll_answers_204_while_it_would_say_the_same(
    logged_in_client, django_assert_num_queries
):
    url = reverse("incidents:open-banner")
    IncidentFactory(title="First")
    cursor = re.search(r"shown=([^\"&]+)", banner(page(logged_in_client))).group(1)

    with django_assert_num_queries(3):  # session, user, the banner's one query
        assert logged_in_client.get(url, {"shown": cursor}).status_code == 204

    IncidentFactory(title="Second", started_at=timezone.now() + timedelta(seconds=1))
    with django_assert_num_queries(3):
        response = logged_in_client.get(url, {"shown": cursor})
    body = response.content.decode()
    assert response.status_code == 200 and "2 open incidents" in body and "Second" in body

    Incident.objects.update(status="resolved")
    gone = logged_in_client.get(url, {"shown": "whatever"}).content.decode()
    assert " hidden" in banner(gone) and "open incident" not in gone


# --- The live poll: rows under their day, the chart with them ------------------------------------


def test_new_rows_come_under_their_days_header(logged_in_client):
    now = timezone.now()
    shown = ChangeEventFactory(occurred_at=now - timedelta(minutes=30))
    late = ChangeEventFactory(summary="Late arrival", occurred_at=now - timedelta(days=2))
    newest = ChangeEventFactory(summary="Newest", occurred_at=now)
    newer = ChangeEventFactory(summary="Newer", occurred_at=now - timedelta(minutes=1))

    body = poll(logged_in_client, shown.pk).content.decode()

    order = re.findall(r'<tr (?:class="day" data-day="([\d-]+)"|id="change-(\d+)")', body)
    today = timezone.localdate(now).isoformat()
    two_days_ago = timezone.localdate(now - timedelta(days=2)).isoformat()
    assert order == [
        (today, ""),
        ("", str(newest.pk)),
        ("", str(newer.pk)),
        (two_days_ago, ""),  # a late arrival: under its own day, after today's
        ("", str(late.pk)),
    ]
    assert body.index('id="poller"') < body.index('class="day"')
    assert ">Today</th>" in body


def test_the_poll_redraws_the_chart_with_the_new_changes(logged_in_client):
    first = ChangeEventFactory(environment="production")
    chart = page(logged_in_client, environment="production")
    assert "<strong>1</strong> change in the last 24h" in chart

    ChangeEventFactory(environment="production", outcome="failed")
    ChangeEventFactory(environment="staging")
    response = poll(logged_in_client, first.pk, environment="production", span="24h")
    body = response.content.decode()

    assert response.status_code == 200
    chart = chart_after(logged_in_client, body)
    assert chart.strip().startswith('<figure class="chart" id="chart">')
    assert "<strong>2</strong> changes" in chart and "1 failed" in chart  # staging not counted
    assert "span=7d" in chart and "environment=production" in chart  # its links keep the filters
    assert "moment=" not in chart


def test_a_finished_row_redraws_the_chart_too(logged_in_client):
    running = ChangeEventFactory(outcome="started")
    ChangeEvent.objects.filter(pk=running.pk).update(outcome="failed", finished_at=timezone.now())

    body = poll(logged_in_client, running.pk, running=running.pk).content.decode()

    assert 'hx-swap-oob="true"' in row(body, running)
    assert "1 failed" in chart_after(logged_in_client, body)


@pytest.mark.parametrize("count", [1, 40])
def test_a_poll_with_new_rows_costs_a_constant_number_of_queries(
    logged_in_client, django_assert_num_queries, count
):
    first = ChangeEventFactory()
    poll(logged_in_client, first.pk)  # warm the session
    for change in ChangeEventFactory.create_batch(count):
        ChangeEventFactory(same_as=change, pipeline=DeploymentPipelineFactory())
    # session, user, anything newer, the new rows, the other pipelines' reports of them
    with django_assert_num_queries(5):
        response = poll(logged_in_client, first.pk)
    assert response.status_code == 200 and response.content.decode().count("data-new") == count


def test_the_idle_poll_stays_one_query(logged_in_client, django_assert_num_queries):
    change = ChangeEventFactory()
    poll(logged_in_client, change.pk)
    with django_assert_num_queries(3):  # session, user, the poll itself
        assert poll(logged_in_client, change.pk, span="7d").status_code == 204


# --- The phone's "Filters (n)" ------------------------------------------------------------------


def test_the_filters_button_counts_the_filters_set(logged_in_client):
    assert '<span id="filter-count"></span>' in page(logged_in_client, span="7d")
    body = page(logged_in_client, environment="production", kind="deployment", before="")
    assert 'aria-controls="change-filters"' in body
    assert '<span id="filter-count"> (2)</span>' in body

    swapped = logged_in_client.get(
        reverse("changes:list"), {"q": "pay", "environment": "", "status": "failed"}, headers=HTMX
    ).content.decode()
    assert '<span id="filter-count" hx-swap-oob="true"> (2)</span>' in swapped
