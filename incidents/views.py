"""Pages for incidents: the list, one incident with its actions, and the Insights page.

Reads go through selectors and insights, writes through services; htmx gets a named partial of
the page's own template. Every action answers with what changed on the page, or the domain
error as a message, never a 500.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from common.exceptions import DomainError
from common.htmx import HtmxHttpRequest, is_partial
from incidents import insights, selectors, services
from incidents.forms import IncidentListFilter, VerdictForm
from incidents.models import Incident, SuspectChange
from pipelines.models import AlertSource
from teams.permissions import require_admin

LIST_TEMPLATE = "incidents/incident_list.html"
DETAIL_TEMPLATE = "incidents/incident_detail.html"


def _list_filter(request: HtmxHttpRequest) -> IncidentListFilter:
    return IncidentListFilter(
        request.GET, queryset=selectors.list_rows(), options=selectors.filter_options()
    )


@login_required
@require_GET
@vary_on_headers("HX-Request")  # never serve a cached fragment as the page
def incident_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = _list_filter(request)
    before = request.GET.get("before", "")
    listing = selectors.incident_listing(filters.qs, status=filters.chosen_status, before=before)
    template = LIST_TEMPLATE
    if is_partial(request):
        template += "#closed-rows" if before else "#results"
    return render(request, template, {"filters": filters, "listing": listing})


@login_required
@require_GET
def incident_list_live(request: HtmxHttpRequest) -> HttpResponse:
    """The list's poll: 204 when nothing the open incidents show has changed (one query)."""
    after = request.GET.get("after", "")
    if after and after == selectors.list_cursor():
        return HttpResponse(status=204)
    filters = _list_filter(request)
    listing = selectors.incident_listing(filters.qs, status=filters.chosen_status, open_only=True)
    context = {
        "filters": filters,
        "listing": listing,
        "new_after": selectors.last_incident_id(after) if after else 0,
    }
    return render(request, f"{LIST_TEMPLATE}#open-section", context)


def _page(request: HtmxHttpRequest, pk: int) -> selectors.IncidentPage:
    url = request.build_absolute_uri(reverse("incidents:detail", args=[pk]))
    page = selectors.incident_page(pk=pk, now=timezone.now(), url=url)
    if page is None:
        raise Http404("No such incident.")
    return page


@login_required
@require_GET
@vary_on_headers("HX-Request")
def incident_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    template = DETAIL_TEMPLATE + ("#live" if is_partial(request) else "")
    return render(request, template, {"page": _page(request, pk)})


@login_required
@require_GET
def incident_detail_live(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The incident page's poll: 204 when nothing new (one query), else the changed parts."""
    cursor = selectors.incident_cursor(pk=pk)
    if cursor is None:
        raise Http404("No such incident.")
    if request.GET.get("after", "") == cursor:
        return HttpResponse(status=204)
    page = _page(request, pk)
    # An action's notice ("Marked as confirmed cause.") speaks of the status it was given in:
    # once the status the page showed has changed (a teammate, the alert source), it goes.
    shown_status = request.GET.get("status", "")
    context = {
        "page": page,
        "clear_flash": bool(shown_status) and shown_status != page.incident.status,
    }
    return render(request, f"{DETAIL_TEMPLATE}#live", context)


Action = Callable[[Incident, services.Actor], str]


def _act(
    request: HtmxHttpRequest, pk: int, action: Action, *, is_note: bool = False
) -> HttpResponse:
    """Run one service for the person asking; answer htmx with the page's changed parts and a
    message, and a plain form post with a redirect (the message follows in the session)."""
    incident = get_object_or_404(Incident, pk=pk)
    try:
        flash = {"text": action(incident, services.Actor.of_user(request.user)), "ok": True}
    except DomainError as error:
        flash = {"text": error.message, "ok": False}
    if not is_partial(request):
        level = messages.SUCCESS if flash["ok"] else messages.ERROR
        messages.add_message(request, level, flash["text"])
        return redirect("incidents:detail", pk=pk)
    context = {
        "page": _page(request, pk),
        "flash": flash,
        "refresh_note_form": is_note and flash["ok"],
    }
    return render(request, f"{DETAIL_TEMPLATE}#live", context)


@login_required
@require_POST
def incident_acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def acknowledge(incident: Incident, actor: services.Actor) -> str:
        services.acknowledge_incident(incident=incident, actor=actor)
        return "Acknowledged. The team can see you are on it."

    return _act(request, pk, acknowledge)


@login_required
@require_POST
def incident_resolve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def resolve(incident: Incident, actor: services.Actor) -> str:
        services.resolve_incident(incident=incident, actor=actor)
        return "Resolved."

    return _act(request, pk, resolve)


@login_required
@require_POST
def incident_reopen(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def reopen(incident: Incident, actor: services.Actor) -> str:
        services.reopen_incident(incident=incident, actor=actor)
        return "Reopened."

    return _act(request, pk, reopen)


@login_required
@require_POST
def incident_note(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def note(incident: Incident, actor: services.Actor) -> str:
        services.add_note(incident=incident, actor=actor, text=request.POST.get("text", ""))
        return "Note added."

    return _act(request, pk, note, is_note=True)


@login_required
@require_POST
def incident_verdict(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def verdict(incident: Incident, actor: services.Actor) -> str:
        form = VerdictForm(request.POST)
        if not form.is_valid():
            raise DomainError("Choose a suspect change and a verdict.")
        suspect = services.set_verdict(
            incident=incident,
            change_id=form.cleaned_data["change"],
            verdict=form.cleaned_data["verdict"],
            actor=actor,
        )
        if suspect.verdict == SuspectChange.Verdict.UNREVIEWED:
            return "Verdict cleared."
        return f"Marked as {suspect.get_verdict_display().lower()}."

    return _act(request, pk, verdict)


@login_required
@require_GET
def incident_insights(request: HtmxHttpRequest) -> HttpResponse:
    report = insights.insights_report(now=timezone.now())
    return render(request, "incidents/insights.html", {"report": report})


@login_required
@require_GET
def component_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """A component of the catalog: its latest changes and incidents."""
    page = selectors.component_page(slug=slug)
    if page is None:
        raise Http404("No such component.")
    return render(request, "incidents/component_detail.html", {"page": page})


@login_required
@require_GET
def open_incidents_banner(request: HtmxHttpRequest) -> HttpResponse:
    """The deployments view's open-incident banner, polled: 204 while it would say the same as
    the one shown (one query)."""
    summary = selectors.open_incidents()
    if request.GET.get("shown") == summary.cursor:
        return HttpResponse(status=204)
    return render(request, "incidents/_open_banner.html", {"open_incidents": summary})


@login_required
@require_POST
def alert_source_test_event(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Settings' "Send test alert": an info incident through the source, then back to it."""
    source = get_object_or_404(AlertSource.objects.select_related("team"), pk=pk)
    require_admin(request.user, source.team)
    incident = services.send_test_alert(source=source, by=request.user)
    messages.success(request, f"Test alert raised: incident #{incident.pk}.")
    return redirect("settings:integration", kind_word="alert-sources", pk=source.pk)
