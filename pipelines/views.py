"""Settings pages: the overview, and pipelines and alert sources with keys shown once, setup
snippets, deliveries, rotation, enable/disable and delete.

Members may look at everything but secrets and other teams' deliveries; a team admin changes
their team's integrations; staff change everything (teams.permissions).
"""

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from common.exceptions import DomainError
from common.htmx import HtmxHttpRequest, is_partial
from pipelines import services
from pipelines.endpoints import ingest_url
from pipelines.exceptions import SubscriptionNotConfirmed
from pipelines.forms import AlertSourceForm, IntegrationForm, PipelineForm
from pipelines.kinds import GROUPS, PIPELINE_KINDS, kind_info, signs
from pipelines.models import AlertSource, DeploymentPipeline, Integration, SnsSubscription
from teams.models import Component, Team
from teams.permissions import (
    can_administer,
    can_see_deliveries,
    deliveries_hidden,
    require_admin,
)

# URL word -> (model, form, label)
INTEGRATIONS: dict[str, tuple[type[Integration], type[IntegrationForm], str]] = {
    "pipelines": (DeploymentPipeline, PipelineForm, "deployment pipeline"),
    "alert-sources": (AlertSource, AlertSourceForm, "alert source"),
}
SHOWN_ONCE = "shown-once"
DELIVERIES_SHOWN = 100
# The integration form's button without JavaScript, "Show this kind's settings": redraw, don't save.
CHOOSE_KIND = "choose_kind"


@login_required
@require_GET
def settings_overview(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "teams": Team.objects.annotate(member_count=Count("memberships")),
        "components": Component.objects.select_related("owner_team").prefetch_related(
            "aliases", Prefetch("depends_on", queryset=Component.objects.only("id", "name"))
        ),
        "pipeline_groups": _by_group(DeploymentPipeline.objects.select_related("team")),
        "alert_sources": AlertSource.objects.select_related("team"),
        "pending_subscriptions": SnsSubscription.objects.filter(confirmed_at=None)
        .select_related("alert_source")
        .order_by("-received_at"),
    }
    return render(request, "pipelines/settings_overview.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")  # the kind's fields alone for htmx, else the page
def integration_create(request: HtmxHttpRequest, kind_word: str) -> HttpResponse:
    model, form_class, label = INTEGRATIONS[kind_word]
    typed = _typed_so_far(request)
    if typed is not None:
        form = form_class(initial=typed, user=request.user)
    else:
        form = form_class(request.POST or None, user=request.user)
    if form.is_bound and form.is_valid():
        require_admin(request.user, form.cleaned_data["team"])
        integration, key = services.create_integration(
            model=model, by=request.user, **form.cleaned_data
        )
        shown = {"secret": integration.secret} if signs(integration) else {}
        _show_once(request, integration, key=key, **shown)
        messages.success(request, f"Created the {label} {integration.name}.")
        return redirect(_detail_url(kind_word, integration))
    context = {"form": form, "label": label, "kind_word": kind_word}
    return _form_page(request, context)


@login_required
@require_GET
def integration_detail(request: HtmxHttpRequest, kind_word: str, pk: int) -> HttpResponse:
    model, _, label = INTEGRATIONS[kind_word]
    integration = get_object_or_404(model.objects.select_related("team"), pk=pk)
    shown = request.session.pop(SHOWN_ONCE, {})
    if shown.get("id") != f"{kind_word}:{pk}":
        shown = {}
    can_change = can_administer(request.user, integration.team)
    # An admin is a member: no second query for them.
    sees_deliveries = can_change or can_see_deliveries(request.user, integration.team)
    context = {
        "integration": integration,
        "label": label,
        "kind_word": kind_word,
        "can_change": can_change,
        "kind": kind_info(model, integration.kind),
        "key": shown.get("key", ""),
        "secret": shown.get("secret", ""),
        "url": ingest_url(integration, shown.get("key")),
        "deliveries": (
            integration.deliveries.order_by("-received_at", "-id")[:DELIVERIES_SHOWN]
            if sees_deliveries
            else None
        ),
        "deliveries_hidden": "" if sees_deliveries else deliveries_hidden(integration.team),
        "subscriptions": (
            integration.sns_subscriptions.order_by("-received_at")
            if isinstance(integration, AlertSource)
            else []
        ),
        "snippet": f"pipelines/snippets/{kind_word}-{integration.kind}.html",
    }
    return render(request, "pipelines/integration_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def integration_edit(request: HtmxHttpRequest, kind_word: str, pk: int) -> HttpResponse:
    model, form_class, label = INTEGRATIONS[kind_word]
    integration = get_object_or_404(model.objects.select_related("team"), pk=pk)
    require_admin(request.user, integration.team)
    instance = model.objects.get(pk=pk)
    typed = _typed_so_far(request)
    if typed is not None:
        form = form_class(initial=typed, instance=instance, user=request.user)
    else:
        form = form_class(request.POST or None, instance=instance, user=request.user)
    if form.is_bound and form.is_valid():
        require_admin(request.user, form.cleaned_data["team"])
        services.update_integration(by=request.user, integration=integration, **form.cleaned_data)
        messages.success(request, "Saved.")
        return redirect(_detail_url(kind_word, integration))
    context = {"form": form, "label": label, "kind_word": kind_word, "integration": integration}
    return _form_page(request, context)


@login_required
@require_POST
def integration_rotate_key(request: HtmxHttpRequest, kind_word: str, pk: int) -> HttpResponse:
    integration = _changeable(request, kind_word, pk)
    key = services.rotate_key(integration=integration, by=request.user)
    _show_once(request, integration, key=key)
    messages.warning(request, "New key below. The old key stopped working just now.")
    return redirect(_detail_url(kind_word, integration))


@login_required
@require_POST
def integration_rotate_secret(request: HtmxHttpRequest, kind_word: str, pk: int) -> HttpResponse:
    integration = _changeable(request, kind_word, pk)
    try:
        secret = services.rotate_secret(integration=integration, by=request.user)
    except DomainError as error:  # a kind that never signs has no secret to rotate
        messages.error(request, error.message)
        return redirect(_detail_url(kind_word, integration))
    _show_once(request, integration, secret=secret)
    messages.warning(request, "New signing secret below: give it to the producer now.")
    return redirect(_detail_url(kind_word, integration))


@login_required
@require_POST
def integration_toggle(request: HtmxHttpRequest, kind_word: str, pk: int) -> HttpResponse:
    integration = _changeable(request, kind_word, pk)
    services.set_enabled(integration=integration, enabled=not integration.enabled, by=request.user)
    messages.success(request, "Enabled." if integration.enabled else "Disabled: requests get 403.")
    return redirect(_detail_url(kind_word, integration))


@login_required
@require_POST
def integration_delete(request: HtmxHttpRequest, kind_word: str, pk: int) -> HttpResponse:
    integration = _changeable(request, kind_word, pk)
    services.delete_integration(integration=integration, by=request.user)
    messages.success(request, f"Deleted {integration.name}. What it brought in stays.")
    return redirect("settings:overview")


@login_required
@require_POST
def sns_subscription_confirm(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Confirm an SNS subscription: visits its SubscribeURL (an SNS endpoint only)."""
    subscription = get_object_or_404(
        SnsSubscription.objects.select_related("alert_source__team"), pk=pk
    )
    require_admin(request.user, subscription.alert_source.team)
    try:
        services.confirm_sns_subscription(subscription=subscription, by=request.user.get_username())
    except SubscriptionNotConfirmed as error:
        messages.error(request, f"Not confirmed: {error.message}")
    else:
        messages.success(request, f"Subscribed to {subscription.topic_arn}.")
    return redirect("settings:overview")


def _typed_so_far(request: HtmxHttpRequest) -> dict[str, str] | None:
    """What the form held when its kind changed, to redraw it with the kind's fields: htmx asks
    with a GET carrying the kind and the fields below it; without JavaScript, the form is
    posted with the CHOOSE_KIND button. None for anything else (a visit, a save)."""
    if request.method == "GET" and "kind" in request.GET:
        return request.GET.dict()
    if request.method == "POST" and CHOOSE_KIND in request.POST:
        typed = request.POST.dict()
        for name in (CHOOSE_KIND, "csrfmiddlewaretoken"):
            typed.pop(name, None)
        return typed
    return None


def _form_page(request: HtmxHttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The form page, or for htmx the fields that follow the kind (redrawn when it changes)."""
    template = "pipelines/integration_form.html"
    if request.method == "GET" and is_partial(request):
        template += "#kind-fields"
    status = 400 if context["form"].errors else 200
    return render(request, template, context, status=status)


def _by_group(
    pipelines: Iterable[DeploymentPipeline],
) -> list[tuple[str, list[DeploymentPipeline]]]:
    """Pipelines grouped as the kind select groups their kinds (CI, GitOps, ...), groups in
    pipelines.kinds order, each group's pipelines by name; groups without any are left out."""
    groups: dict[str, list[DeploymentPipeline]] = {group: [] for group in GROUPS}
    for pipeline in pipelines:
        info = PIPELINE_KINDS.get(pipeline.kind)
        groups[info.group if info else GROUPS[-1]].append(pipeline)
    return [(group, members) for group, members in groups.items() if members]


def _changeable(request: HtmxHttpRequest, kind_word: str, pk: int) -> Integration:
    model = INTEGRATIONS[kind_word][0]
    integration = get_object_or_404(model.objects.select_related("team"), pk=pk)
    require_admin(request.user, integration.team)
    return integration


def _show_once(request: HtmxHttpRequest, integration: Integration, **secrets: Any) -> None:
    # Kept in the session for exactly one page view, so a reload does not show it again.
    kind_word = "pipelines" if isinstance(integration, DeploymentPipeline) else "alert-sources"
    request.session[SHOWN_ONCE] = {"id": f"{kind_word}:{integration.pk}", **secrets}


def _detail_url(kind_word: str, integration: Integration) -> str:
    return reverse("settings:integration", kwargs={"kind_word": kind_word, "pk": integration.pk})
