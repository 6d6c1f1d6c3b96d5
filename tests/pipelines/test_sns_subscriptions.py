import pytest
from django.urls import reverse
from django.utils import timezone

from pipelines.models import SnsSubscription
from tests.pipelines.factories import AlertSourceFactory
from tests.teams.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def subscription(url: str = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"):
    return SnsSubscription.objects.create(
        alert_source=AlertSourceFactory(kind="cloudwatch_sns"),
        topic_arn="arn:aws:sns:us-east-1:123456789012:alarms",
        subscribe_url=url,
        message_id="m-1",
        received_at=timezone.now(),
    )


def test_pending_subscriptions_are_shown_in_settings(logged_in_client):
    pending = subscription()
    page = logged_in_client.get(reverse("settings:overview")).content.decode()
    assert pending.topic_arn in page and "Confirm" in page


def test_only_an_admin_of_the_team_or_staff_may_confirm(client):
    pending = subscription()
    member = MembershipFactory(team=pending.alert_source.team, role="member").user
    client.force_login(member)
    response = client.post(reverse("settings:sns-subscription-confirm", args=[pending.pk]))
    assert response.status_code == 403


def test_a_subscribe_url_off_sns_is_never_visited(client):
    pending = subscription(url="https://127.0.0.1:9/internal-admin")
    client.force_login(UserFactory(username="root", is_staff=True))

    response = client.post(
        reverse("settings:sns-subscription-confirm", args=[pending.pk]), follow=True
    )

    assert "not an SNS endpoint" in response.content.decode()
    pending.refresh_from_db()
    assert pending.confirmed_at is None


def test_confirming_needs_csrf(client):
    pending = subscription()
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(UserFactory(username="root", is_staff=True))
    response = csrf_client.post(reverse("settings:sns-subscription-confirm", args=[pending.pk]))
    assert response.status_code == 403
