"""Settings pages: what a team has set up."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from common.htmx import HtmxHttpRequest
from pipelines import services
from pipelines.exceptions import SubscriptionNotConfirmed
from pipelines.models import AlertSource, DeploymentPipeline, SnsSubscription
from teams.models import Component, Team
from teams.permissions import can_administer


@login_required
@require_GET
def settings_overview(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "teams": Team.objects.annotate(member_count=Count("memberships")),
        "components": Component.objects.select_related("owner_team").prefetch_related(
            "aliases", Prefetch("depends_on", queryset=Component.objects.only("id", "name"))
        ),
        "pipelines": DeploymentPipeline.objects.select_related("team"),
        "alert_sources": AlertSource.objects.select_related("team"),
        "pending_subscriptions": SnsSubscription.objects.filter(confirmed_at=None)
        .select_related("alert_source")
        .order_by("-received_at"),
    }
    return render(request, "pipelines/settings_overview.html", context)


@login_required
@require_POST
def sns_subscription_confirm(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Confirm an SNS subscription: visits its SubscribeURL (an SNS endpoint only)."""
    subscription = get_object_or_404(
        SnsSubscription.objects.select_related("alert_source__team"), pk=pk
    )
    if not can_administer(request.user, subscription.alert_source.team):
        raise PermissionDenied
    try:
        services.confirm_sns_subscription(subscription=subscription, by=request.user.get_username())
    except SubscriptionNotConfirmed as error:
        messages.error(request, f"Not confirmed: {error.message}")
    else:
        messages.success(request, f"Subscribed to {subscription.topic_arn}.")
    return redirect("settings:overview")
