"""Pages for change events: the live deployment-events view, a change, the manual form."""

import json
from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from changes import charts, selectors, services
from changes.filters import ChangeFilter
from changes.forms import ManualChangeForm
from changes.models import ChangeEvent
from common.htmx import HtmxHttpRequest, is_partial
from common.pagination import keyset_page
from pipelines.models import DeploymentPipeline
from teams.models import Component
from teams.permissions import require_admin

POLL_LIMIT = 50
ID_DIGITS = 18  # a bigint has 19: longer "ids" from a URL are not ours
SUGGESTIONS = 10


@login_required
@require_GET
@vary_on_headers("HX-Request", "HX-Target")  # never serve a cached fragment as the page
def change_list(request: HtmxHttpRequest) -> HttpResponse:
    """The home page: every change, newest first, filtered by the query string."""
    filters, changes = _filtered_feed(request)
    page = keyset_page(changes, time_field="occurred_at", before=request.GET.get("before", ""))
    span = _span(request)
    context = {
        "filters": filters,
        "page": page,
        "cursor": selectors.latest_change_id(),
        "chart": charts.cached_changes_per_hour(
            changes, span=span, filters=_query_without(request, "before", "span")
        ),
        "query": _query_without(request, "before"),
        "has_changes": page.items or ChangeEvent.objects.exists(),
        "active_filters": _active_filters(request, filters),
    }
    template = "changes/change_list.html"
    if is_partial(request):
        # "Load older" wants more rows; a filter change wants the whole results block (and the
        # count on the phone's "Filters (n)" button, out of band).
        template += "#rows" if request.GET.get("before") else "#results"
        context["swap_filter_count"] = not request.GET.get("before")
    return render(request, template, context)


@login_required
@require_GET
def change_poll(request: HtmxHttpRequest) -> HttpResponse:
    """Changes recorded since the cursor, and the rows the page shows rolling out that are not
    any more, for the live view; 204 when there are neither.

    New rows: ids only grow, so the cursor is the highest id shown. Changed rows: a later
    report updates a change in place (same id), so no id cursor can see it, and the change's
    times are the producer's, not ours. Rather than keep state per viewer, the page sends the
    ids of its rows still rolling out (hidden `running` inputs, see _poller.html); those that
    have finished or were rolled back since come back as rows swapped in place by their id
    (hx-swap-oob). Any process can answer it. The page polls every second, so an idle poll
    (nothing newer, no row rolling out) answers from one index probe before the filters are
    built: the whole feed has nothing newer, so no filtered view of it can have.

    New rows come newest first under their day's header (app.js merges it with the page's own
    header of that day), with a loader that fetches the strip chart counted at this moment
    (change_chart), so its total moves too.
    """
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    running = [
        int(pk) for pk in request.GET.getlist("running") if pk.isdigit() and len(pk) <= ID_DIGITS
    ]
    if not running and not selectors.has_changes_after(after):
        return HttpResponse(status=204)
    _, changes = _filtered_feed(request)
    new = list(changes.filter(id__gt=after).order_by("-id")[:POLL_LIMIT])
    new_ids = {change.pk for change in new}
    finished = selectors.no_longer_running(pk for pk in running if pk not in new_ids)
    if not new and not finished:
        return HttpResponse(status=204)  # htmx swaps nothing
    cursor = max([after, *new_ids])
    # Grouped by day like the page: a late arrival goes under its own day's header.
    new.sort(key=lambda change: (change.occurred_at, change.pk), reverse=True)
    context = {
        "new_changes": new,
        "finished_changes": finished,
        "cursor": cursor,
        "query": _query_without(request, "after", "running"),
        "moment": f"{cursor}:{','.join(str(change.pk) for change in finished)}",
    }
    return render(request, "changes/change_list.html#new-rows", context)


@login_required
@require_GET
def change_chart(request: HtmxHttpRequest) -> HttpResponse:
    """The strip chart counted at a moment of the live poll (its cursor and the rows it
    redrew), which the page fetches once the poll's rows are in: on a busy day the count reads
    every change of the span (400 ms for 200,000), and the rows need not wait for it."""
    _, changes = _filtered_feed(request)
    chart = charts.live_changes_per_hour(
        changes,
        span=_span(request),
        filters=_query_without(request, "moment", "span"),
        moment=request.GET.get("moment", ""),
    )
    context = {"chart": chart, "query": _query_without(request, "moment")}
    return render(request, "changes/change_list.html#chart", context)


@login_required
@require_GET
def change_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A change (a report grouped under another one too): every field, its lifecycle, every
    report of it, and the incidents in which it is a suspect."""
    try:
        page = selectors.change_page(pk, user=request.user)
    except ChangeEvent.DoesNotExist:
        raise Http404("No such change.") from None
    change = page.change
    metadata = json.dumps(change.metadata, indent=2, sort_keys=True, ensure_ascii=False)
    return render(
        request,
        "changes/change_detail.html",
        {"change": change, "page": page, "metadata": metadata},
    )


@login_required
@require_http_methods(["GET", "POST"])
def change_create(request: HtmxHttpRequest) -> HttpResponse:
    """Record a hotfix or console change by hand; it is correlated like any other."""
    form = ManualChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        change = replace(form.to_change(), triggered_by=request.user.get_username())
        event, _ = services.record_change(pipeline=None, change=change, author=request.user)
        messages.success(request, f"Recorded: {event.summary}")
        target = reverse("changes:list")
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    template = "changes/change_form.html"
    if is_partial(request):
        template += "#form"  # inline validation: only the form is swapped
    return render(request, template, {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def component_suggestions(request: HtmxHttpRequest) -> HttpResponse:
    """Catalog names (and aliases) starting with what was typed, as <option>s."""
    typed = request.GET.get("component", "").strip().lower()
    names = Component.objects.order_by("name").values_list("name", flat=True)
    if typed:
        names = names.filter(name__icontains=typed)
    return render(
        request,
        "changes/change_form.html#suggestions",
        {"suggestions": list(names[:SUGGESTIONS])},
    )


def _filtered_feed(request: HtmxHttpRequest) -> tuple[ChangeFilter, QuerySet[ChangeEvent]]:
    """The feed under the query string's filters (all of it while they are unset or invalid)."""
    filters = ChangeFilter(request.GET or None, queryset=selectors.change_feed())
    changes = filters.qs if filters.is_bound and filters.is_valid() else selectors.change_feed()
    return filters, changes


def _span(request: HtmxHttpRequest) -> str:
    span = request.GET.get("span", "")
    return span if span in charts.SPANS else "24h"


def _active_filters(request: HtmxHttpRequest, filters: ChangeFilter) -> int:
    """How many filters the query string sets, for the phone's "Filters (n)" button."""
    return sum(1 for name in filters.form.fields if request.GET.get(name, "").strip())


def _query_without(request: HtmxHttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@login_required
@require_POST
def pipeline_test_event(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Settings' "Send test event": checked and logged in the pipeline's deliveries (never a
    change), then back to the pipeline's page, which lists them."""
    pipeline = get_object_or_404(DeploymentPipeline.objects.select_related("team"), pk=pk)
    require_admin(request.user, pipeline.team)
    delivery = services.send_test_change(pipeline=pipeline, by=request.user)
    if delivery.status_code < 400:
        messages.success(
            request,
            "Test event received: see it under Recent deliveries below. Test events are never "
            "added to the deployments feed.",
        )
    else:
        messages.warning(request, "Test event refused: see why under Recent deliveries below.")
    return redirect("settings:integration", kind_word="pipelines", pk=pipeline.pk)
