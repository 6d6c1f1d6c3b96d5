"""Celery wrappers around pipeline services."""

from celery import shared_task

from pipelines import services
from pipelines.exceptions import SubscriptionNotConfirmed
from pipelines.models import SnsSubscription


@shared_task(
    name="pipelines.confirm_sns_subscription",
    acks_late=True,
    autoretry_for=(SubscriptionNotConfirmed,),
    retry_backoff=True,
    max_retries=5,
)
def confirm_sns_subscription(subscription_id: int, by: str) -> None:
    subscription = SnsSubscription.objects.filter(pk=subscription_id, confirmed_at=None).first()
    if subscription is not None:  # confirmed meanwhile, or a newer confirmation replaced it
        services.confirm_sns_subscription(subscription=subscription, by=by)
