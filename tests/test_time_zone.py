"""The viewer's time zone: taken from the browser at the first login, kept on the profile, cached
in the session, used by every page from the first one; each time names its zone on hover, each
page names it once, and the manual change form reads in it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from common.middleware import TIME_ZONE_SESSION_KEY
from teams.models import Profile
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.teams.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def oncall():
    return UserFactory(username="oncall", password=PASSWORD)


def log_in(client, **fields):
    return client.post(
        reverse("login"), {"username": "oncall", "password": PASSWORD, **fields}, follow=True
    )


# --- First login ----------------------------------------------------------------------------------


def test_the_login_form_carries_a_hidden_field_for_the_browsers_zone(client):
    body = client.get(reverse("login")).content.decode()
    assert '<input type="hidden" name="time_zone" data-browser-time-zone' in body


def test_the_first_login_keeps_the_browsers_zone_and_the_first_page_is_in_it(client, oncall):
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    ChangeEventFactory(summary="Pay deploy", occurred_at=at)

    response = log_in(client, time_zone="America/New_York")

    assert response.redirect_chain == [(reverse("changes:list"), 302)]
    assert Profile.objects.get(user=oncall).time_zone == "America/New_York"
    body = response.content.decode()
    assert f">{at.astimezone(NEW_YORK):%H:%M}<" in body  # no reload needed
    assert body.count("Times in America/New_York") == 1


def test_a_later_login_does_not_overwrite_the_chosen_zone(client, oncall):
    Profile.objects.create(user=oncall, time_zone="Europe/Berlin")

    body = log_in(client, time_zone="America/New_York").content.decode()

    assert Profile.objects.get(user=oncall).time_zone == "Europe/Berlin"
    assert "Times in Europe/Berlin" in body


def test_a_profile_without_a_zone_yet_takes_the_browsers(client, oncall):
    Profile.objects.create(user=oncall, time_zone="")
    log_in(client, time_zone="Asia/Kolkata")
    assert Profile.objects.get(user=oncall).time_zone == "Asia/Kolkata"


@pytest.mark.parametrize("junk", ["Not/AZone", "localtime", "<script>", "x" * 5000, ""])
def test_a_junk_zone_from_the_login_form_is_ignored_and_the_login_still_works(client, oncall, junk):
    response = log_in(client, time_zone=junk)

    assert response.redirect_chain == [(reverse("changes:list"), 302)]
    assert not Profile.objects.filter(user=oncall).exclude(time_zone="").exists()
    assert "Times in UTC" in response.content.decode()


def test_a_wrong_password_stores_no_zone(client, oncall):
    response = log_in(client, password="guess", time_zone="America/New_York")
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert not Profile.objects.exists()


# --- The session cache ----------------------------------------------------------------------------


def test_every_page_reads_the_zone_from_the_session_without_a_query(
    client, user, django_assert_num_queries
):
    Profile.objects.create(user=user, time_zone="Europe/Berlin")
    client.force_login(user)  # any login caches the zone in the new session
    assert client.session[TIME_ZONE_SESSION_KEY] == "Europe/Berlin"
    changes = ChangeEventFactory.create_batch(3)
    url = reverse("changes:poll")
    client.get(url, {"after": changes[-1].pk})  # warm the session

    with django_assert_num_queries(3):  # session, user, new rows: as without a zone
        assert client.get(url, {"after": changes[-1].pk}).status_code == 204
    # Session, user, the profile and the API tokens (the page's own reads).
    with django_assert_num_queries(4):
        body = client.get(reverse("profile")).content.decode()
    assert "Times in Europe/Berlin" in body


def test_a_session_from_before_the_cache_reads_the_profile_once(client, user):
    Profile.objects.create(user=user, time_zone="Asia/Tokyo")
    client.force_login(user)
    session = client.session
    del session[TIME_ZONE_SESSION_KEY]  # as sessions made before the cache existed are
    session.save()

    assert "Times in Asia/Tokyo" in client.get(reverse("changes:list")).content.decode()
    assert client.session[TIME_ZONE_SESSION_KEY] == "Asia/Tokyo"


def test_a_user_without_a_zone_sees_utc(logged_in_client):
    at = datetime(2026, 12, 5, 15, 32, 1, tzinfo=UTC)
    ChangeEventFactory(occurred_at=at)
    body = logged_in_client.get(reverse("changes:list")).content.decode()
    assert ">15:32<" in body and "Times in UTC" in body


def test_logging_out_forgets_the_zone(logged_in_client, user):
    logged_in_client.post(reverse("profile"), {"time_zone": "Europe/Berlin"})
    logged_in_client.post(reverse("logout"))
    assert TIME_ZONE_SESSION_KEY not in logged_in_client.session


# --- Each time names its zone ---------------------------------------------------------------------


def render(source: str, zone: str, **context) -> str:
    with timezone.override(ZoneInfo(zone)):
        return Template("{% load whatchanged %}" + source).render(Context(context))


AT = datetime(2026, 12, 5, 15, 32, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "title"),
    [
        ("Europe/Berlin", "Sat 5 Dec 2026, 16:32:01 CET (Europe/Berlin) · 15:32:01 UTC"),
        ("UTC", "Sat 5 Dec 2026, 15:32:01 UTC"),
        (
            "Pacific/Auckland",
            "Sun 6 Dec 2026, 04:32:01 NZDT (Pacific/Auckland) · Sat 5 Dec, 15:32:01 UTC",
        ),
        ("America/New_York", "Sat 5 Dec 2026, 10:32:01 EST (America/New_York) · 15:32:01 UTC"),
    ],
)
def test_a_moment_names_its_date_zone_and_utc_on_hover(zone, title):
    html = render("{% moment at %}", zone, at=AT)
    assert f'title="{title}"' in html
    assert f'datetime="{AT.astimezone(ZoneInfo(zone)).isoformat()}"' in html


def test_a_clock_shows_only_the_time_but_the_same_title():
    html = render(
        '{% clock at %} {% clock at "%b %-d, %Y %H:%M:%S" %} {% clock none %}',
        "Europe/Berlin",
        at=AT,
        none=None,
    )
    title = "Sat 5 Dec 2026, 16:32:01 CET (Europe/Berlin) · 15:32:01 UTC"
    assert f'title="{title}">16:32</time>' in html
    assert f'title="{title}">Dec 5, 2026 16:32:01</time>' in html
    assert html.endswith("—")


def test_the_pages_that_list_times_carry_the_titles_and_name_the_zone_once(client, user):
    Profile.objects.create(user=user, time_zone="Europe/Berlin")
    client.force_login(user)
    change = ChangeEventFactory(occurred_at=AT, started_at=AT, received_at=AT)
    incident = IncidentFactory(started_at=AT, acknowledged_at=AT, status="acknowledged")
    title = 'title="Sat 5 Dec 2026, 16:32:01 CET (Europe/Berlin) · 15:32:01 UTC"'

    for url in (
        reverse("changes:list"),
        reverse("changes:detail", args=[change.pk]),
        reverse("incidents:list"),
        reverse("incidents:detail", args=[incident.pk]),
    ):
        body = client.get(url).content.decode()
        assert body.count("Times in Europe/Berlin") == 1, url
        assert title in body, url


# --- The manual change form -----------------------------------------------------------------------


def test_the_manual_form_names_the_zone_it_reads_and_reads_in_it(client, user):
    Profile.objects.create(user=user, time_zone="America/New_York")
    client.force_login(user)

    body = client.get(reverse("changes:new")).content.decode()
    assert "Occurred at (America/New_York)" in body
    assert "Read in America/New_York; change it on your profile." in body

    form = {
        "component": "api",
        "summary": "Restarted by hand",
        "kind": "manual",
        "environment": "prod",
        "occurred_at": "2026-07-15T10:00",  # summer: EDT, four hours behind
    }
    assert client.post(reverse("changes:new"), form).status_code == 302
    assert ChangeEvent.objects.get().occurred_at == datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
