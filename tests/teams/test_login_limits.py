"""Login brute force is limited (django-axes): five wrong passwords for a user name from one
address lock that pair out for 15 minutes, through the real login form."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.teams.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def oncall():
    return UserFactory(username="oncall", password=PASSWORD)


def log_in(client, password: str, address: str = "192.0.2.10"):
    return client.post(
        reverse("login"), {"username": "oncall", "password": password}, REMOTE_ADDR=address
    )


def test_five_wrong_passwords_lock_the_user_out_from_that_address(client, oncall):
    for _ in range(4):
        assert log_in(client, "guess").status_code == 200  # the form again, with its error
    locked = log_in(client, "guess")

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert log_in(client, PASSWORD).status_code == 429  # even the right password, for now
    assert "_auth_user_id" not in client.session
    assert log_in(client, PASSWORD, address="198.51.100.7").status_code == 302  # elsewhere


def test_the_lockout_ends_after_fifteen_minutes(client, oncall):
    for _ in range(5):
        log_in(client, "guess")
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert log_in(client, PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(client, oncall):
    for _ in range(4):
        log_in(client, "guess")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert log_in(client, "guess").status_code == 200
