"""Pages for change events."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from changes import selectors
from common.htmx import HtmxHttpRequest, is_partial
from common.pagination import keyset_page


@login_required
@require_GET
@vary_on_headers("HX-Request")  # never serve a cached fragment as the page
def change_list(request: HtmxHttpRequest) -> HttpResponse:
    page = keyset_page(
        selectors.change_feed(), time_field="occurred_at", before=request.GET.get("before", "")
    )
    template = "changes/change_list.html"
    if is_partial(request):
        template += "#rows"
    return render(request, template, {"page": page})


@login_required
@require_GET
def change_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(selectors.change_feed(), pk=pk)
    return render(request, "changes/change_detail.html", {"change": change})
