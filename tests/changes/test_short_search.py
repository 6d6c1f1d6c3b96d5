"""Search words of one or two letters: no trigram index answers them, so they read the newest
changes only (changes.filters.SHORT_SEARCH_CHANGES), and the page and the API say so.

The bound is lowered to a handful of changes here; the path is the real one, from the request
to the database."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from changes import filters
from changes.filters import ChangeFilter
from changes.models import ChangeEvent, search_text
from teams.services import create_api_token
from tests.changes.factories import ChangeEventFactory
from tests.conftest import postgres_only
from tests.teams.factories import UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
BOUND = 5
NOTICE = (
    f"Words of one or two letters search the newest {BOUND} changes only: type three letters or "
    "more to search them all."
)


@pytest.fixture(autouse=True)
def _small_bound(monkeypatch):
    monkeypatch.setattr(filters, "SHORT_SEARCH_CHANGES", BOUND)


@pytest.fixture
def history():
    """An old v4 release of payments beyond the newest five changes, and a recent one of
    search within them."""
    now = timezone.now()
    old = ChangeEventFactory(
        component="payments-service",
        summary="Deploy payments v4.2.0",
        version="v4.2.0",
        occurred_at=now - timedelta(days=40),
    )
    for hours in range(1, 5):  # none of them says "v" or "4"
        ChangeEventFactory(
            component="web",
            summary="Routine run",
            version="",
            occurred_at=now - timedelta(hours=hours),
        )
    recent = ChangeEventFactory(
        component="search-api", summary="Deploy search v4.9.1", version="v4.9.1", occurred_at=now
    )
    return old, recent


def page(client, **params):
    response = client.get(reverse("changes:list"), params)
    assert response.status_code == 200
    return response


def shown(response) -> set[int]:
    return {change.pk for change in response.context["page"].items}


def notice(body: str) -> str | None:
    found = re.search(r'<p class="muted search-notice" role="status">(.*?)</p>', body)
    return found.group(1) if found else None


@pytest.mark.parametrize("words", ["v4", "V4", "4", "v"])
def test_a_short_word_searches_the_newest_changes_and_says_so(logged_in_client, history, words):
    _, recent = history

    response = page(logged_in_client, q=words)

    assert shown(response) == {recent.pk}  # the old v4 release is beyond the newest five
    assert notice(response.content.decode()) == NOTICE


def test_the_bound_counts_changes_not_matches(logged_in_client, history):
    """The newest five changes, whatever they say: a sixth newest v4 is out, the fifth in."""
    _, recent = history
    fifth = ChangeEvent.objects.order_by("-occurred_at")[BOUND - 1]
    ChangeEvent.objects.filter(pk=fifth.pk).update(version="v4.0.0")

    assert shown(page(logged_in_client, q="v4")) == {recent.pk, fifth.pk}


def test_with_fewer_changes_than_the_bound_a_short_word_searches_them_all(logged_in_client):
    old = ChangeEventFactory(version="v4.0.0", occurred_at=timezone.now() - timedelta(days=400))

    assert shown(page(logged_in_client, q="v4")) == {old.pk}


@pytest.mark.parametrize("words", ["v4.", "payments", "v4.2.0", "deploy v4.2"])
def test_words_of_three_letters_or_more_search_everything_as_before(
    logged_in_client, history, words
):
    old, _ = history

    response = page(logged_in_client, q=words)

    assert old.pk in shown(response)
    assert notice(response.content.decode()) is None


def test_a_short_word_among_long_ones_bounds_the_whole_search(logged_in_client, history):
    _, recent = history

    assert shown(page(logged_in_client, q="deploy v4")) == {recent.pk}
    assert shown(page(logged_in_client, q="payments v4")) == set()
    body = page(logged_in_client, q="payments v4").content.decode()
    assert notice(body) == NOTICE
    assert "No changes match these filters" in body


def test_the_notice_is_in_the_results_fragment_a_filter_change_swaps(logged_in_client, history):
    body = logged_in_client.get(reverse("changes:list"), {"q": "v4"}, headers=HTMX)
    body = body.content.decode()

    assert "<html" not in body and notice(body) == NOTICE


def test_invalid_filters_are_ignored_and_so_is_the_notice(logged_in_client, history):
    old, _ = history

    response = page(logged_in_client, q="v4", kind="explosion")

    assert old.pk in shown(response)  # the view falls back to every change
    assert notice(response.content.decode()) is None


def test_the_chart_counts_the_rows_the_bounded_search_finds(logged_in_client):
    now = timezone.now()
    for hours in range(8):  # the three oldest are beyond the newest five
        ChangeEventFactory(version=f"v4.{hours}.0", occurred_at=now - timedelta(hours=hours))

    body = page(logged_in_client, q="v4", span="24h").content.decode()

    assert "<strong>5</strong> changes in the last 24h" in body
    assert (
        "<strong>8</strong> changes" in page(logged_in_client, q="v4.", span="24h").content.decode()
    )


def test_load_older_pages_through_the_bound_and_stops_at_it(logged_in_client, monkeypatch):
    monkeypatch.setattr(filters, "SHORT_SEARCH_CHANGES", 60)
    now = timezone.now()
    changes = [
        ChangeEventFactory(version=f"v4.{i}.0", occurred_at=now - timedelta(minutes=i))
        for i in range(70)
    ]
    ChangeEventFactory(version="v9.0.0", occurred_at=now - timedelta(seconds=30))  # no v4

    first = page(logged_in_client, q="v4")
    cursor = first.context["page"].next_cursor
    assert f"q=v4&amp;before={cursor}" in first.content.decode()  # "Load older" keeps the search
    older = logged_in_client.get(
        reverse("changes:list"), {"q": "v4", "before": cursor}, headers=HTMX
    )

    assert older.status_code == 200 and "<html" not in older.content.decode()
    assert older.context["page"].next_cursor == ""  # nothing beyond the newest 60 changes
    newest_60 = {change.pk for change in changes[:59]}  # the 60th newest change is the v9 one
    assert shown(first) | shown(older) == newest_60
    assert not shown(first) & shown(older)


@pytest.mark.django_db(transaction=True)  # nothing is cached inside a test's transaction
def test_a_short_search_costs_one_query_more_once_a_minute(
    logged_in_client, history, django_assert_num_queries
):
    # The session, the user, the rows, the other pipelines' reports of them, the poll's cursor,
    # the chart, the team and pipeline options, the open-incident banner; a short word adds
    # the bound, which is then cached for a minute, like the chart.
    with django_assert_num_queries(9):
        page(logged_in_client, q="v4.")
    with django_assert_num_queries(10):
        page(logged_in_client, q="v4")
    with django_assert_num_queries(8):
        page(logged_in_client, q="v4.")
    with django_assert_num_queries(8):
        page(logged_in_client, q="v4")


def test_the_poll_keeps_the_bound(logged_in_client, history):
    _, recent = history
    newer = ChangeEventFactory(version="v4.9.2", occurred_at=timezone.now())

    # From an empty page's cursor: the old v4 release is newer than that, but beyond the bound.
    response = logged_in_client.get(reverse("changes:poll"), {"after": 0, "q": "v4"})

    assert [change.pk for change in response.context["new_changes"]] == [newer.pk, recent.pk]


# --- The read API uses the same filter ----------------------------------------------------------


@pytest.fixture
def token():
    _, token = create_api_token(user=UserFactory(username="script"))
    return token


def api(client, token, **params) -> dict:
    response = client.get("/api/v1/changes", params, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    return response.json()


def test_the_api_searches_short_words_the_same_way_and_says_so(client, token, history):
    old, recent = history

    short = api(client, token, q="v4")
    long = api(client, token, q="v4.")

    assert [change["id"] for change in short["results"]] == [recent.pk]
    assert short["notice"] == NOTICE
    assert [change["id"] for change in long["results"]] == [recent.pk, old.pk]
    assert long["notice"] is None
    assert api(client, token)["notice"] is None


# --- The plan -----------------------------------------------------------------------------------


@postgres_only
def test_the_bound_stops_the_walk_down_the_time_index():
    """The bound must be an index condition of the time index (where the walk stops), not a
    filter checked on every row of the history."""
    queryset = ChangeFilter({"q": "v4"}, queryset=ChangeEvent.objects.all()).qs
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few test rows: force the choice
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = queryset.order_by("-occurred_at", "-id")[:51].explain()

    # A constant, not a subquery: PostgreSQL estimates how many changes it leaves, so it never
    # prefers a scan of the whole table (it did for a subquery's unknown value).
    walk = re.search(r"Index Scan using change_time_idx.*?\n(.*Index Cond: .*)", plan)
    assert walk and re.search(r"occurred_at >= '[\d-]+ [\d:.+]+'::timestamp", walk.group(1)), plan


@postgres_only
def test_a_bounded_search_never_reads_the_trigram_index():
    """With a short word, every word is looked for in the bounded walk: the trigram index's
    rows for a common word among them (700,000 of a million for "deploy") are not worth
    reading, but PostgreSQL misjudges how many there are. So the bounded search's text is an
    expression the index does not answer."""
    unindexed = search_text(indexed=False)
    changes = ChangeEvent.objects.alias(text=unindexed).filter(text__icontains="deploy")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few test rows: force the choice
        assert "change_search_idx" not in changes.order_by().explain()

    bounded = ChangeFilter({"q": "v4 deploy"}, queryset=ChangeEvent.objects.all()).qs
    assert str(bounded.query).count(unindexed.sql) == 2  # both words
    unbounded = ChangeFilter({"q": "v4.2 deploy"}, queryset=ChangeEvent.objects.all()).qs
    assert unindexed.sql not in str(unbounded.query)
