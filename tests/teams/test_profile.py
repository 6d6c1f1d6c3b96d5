"""The profile page: the user's time zone, chosen from the IANA names, saved for every page."""

import pytest
from django.urls import reverse

from teams.models import Profile

pytestmark = pytest.mark.django_db


def test_the_profile_page_needs_a_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_username_in_the_top_bar_opens_the_profile(logged_in_client):
    body = logged_in_client.get(reverse("changes:list")).content.decode()
    assert f'<a class="account-name" href="{reverse("profile")}"' in body


def test_the_profile_page_offers_every_zone_grouped_and_selects_utc_until_one_is_set(
    logged_in_client, django_assert_num_queries
):
    with django_assert_num_queries(4):  # session, user, profile, the API tokens
        body = logged_in_client.get(reverse("profile")).content.decode()
    assert "Not set yet: times are shown in UTC." in body
    assert '<option value="UTC" selected>' in body
    assert '<optgroup label="Europe">' in body and '<option value="Europe/Berlin">' in body
    assert '<option value="America/New_York">America/New York</option>' in body
    assert 'value="localtime"' not in body  # the server's own zone is no place


def test_saving_a_zone_keeps_it_and_the_next_page_is_in_it(logged_in_client, user):
    response = logged_in_client.post(reverse("profile"), {"time_zone": "Europe/Berlin"})

    assert response.status_code == 302 and response["Location"] == reverse("profile")
    assert Profile.objects.get(user=user).time_zone == "Europe/Berlin"
    body = logged_in_client.get(reverse("profile")).content.decode()
    assert "Saved. Times are shown in Europe/Berlin." in body
    assert '<option value="Europe/Berlin" selected>' in body
    assert "Times in Europe/Berlin" in body


def test_saving_again_changes_the_zone(logged_in_client, user):
    Profile.objects.create(user=user, time_zone="Europe/Berlin")
    logged_in_client.post(reverse("profile"), {"time_zone": "Asia/Tokyo"})
    assert Profile.objects.get(user=user).time_zone == "Asia/Tokyo"
    assert "Times in Asia/Tokyo" in logged_in_client.get(reverse("changes:list")).content.decode()


@pytest.mark.parametrize(
    "junk", ["Mars/Olympus_Mons", "localtime", "", "Europe/Berlin\x00", "x" * 500]
)
def test_a_zone_we_do_not_know_is_refused(logged_in_client, user, junk):
    response = logged_in_client.post(reverse("profile"), {"time_zone": junk})

    assert response.status_code == 400
    assert 'class="error" role="alert"' in response.content.decode()
    assert not Profile.objects.filter(user=user).exists()
    assert "Times in UTC" in logged_in_client.get(reverse("changes:list")).content.decode()


def test_the_profile_form_needs_csrf(client, user):
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    assert csrf_client.post(reverse("profile"), {"time_zone": "Europe/Berlin"}).status_code == 403
    assert not Profile.objects.filter(user=user).exists()
