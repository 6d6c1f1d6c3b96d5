"""Settings pages: what a team has set up."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from common.htmx import HtmxHttpRequest
from pipelines.models import AlertSource, DeploymentPipeline
from teams.models import Component, Team


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
    }
    return render(request, "pipelines/settings_overview.html", context)
