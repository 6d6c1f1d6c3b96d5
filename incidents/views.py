"""Pages for incidents."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from common.htmx import HtmxHttpRequest, is_partial
from common.pagination import keyset_page
from incidents import selectors
from incidents.models import Incident


@login_required
@require_GET
@vary_on_headers("HX-Request")
def incident_list(request: HtmxHttpRequest) -> HttpResponse:
    open_incidents = selectors.incident_list().filter(status__in=Incident.OPEN_STATUSES)
    closed = keyset_page(
        selectors.incident_list().filter(status=Incident.Status.RESOLVED),
        time_field="started_at",
        before=request.GET.get("before", ""),
    )
    template = "incidents/incident_list.html"
    if is_partial(request):
        template += "#closed-rows"
    context = {"open_incidents": open_incidents.order_by("-started_at"), "closed": closed}
    return render(request, template, context)


@login_required
@require_GET
def incident_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = get_object_or_404(selectors.incident_detail(), pk=pk)
    return render(request, "incidents/incident_detail.html", {"incident": incident})
