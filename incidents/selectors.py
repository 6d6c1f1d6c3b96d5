"""Reads of incidents."""

from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When

from incidents.models import Incident, SuspectChange


def incident_list() -> QuerySet[Incident]:
    """Incidents, open ones first, with what the list shows beside them."""
    return (
        Incident.objects.select_related("alert_source", "team")
        .prefetch_related("components")
        .annotate(
            is_closed=Case(
                When(status=Incident.Status.RESOLVED, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
    )


def incident_detail() -> QuerySet[Incident]:
    return Incident.objects.select_related(
        "alert_source", "team", "acknowledged_by", "resolved_by"
    ).prefetch_related(
        "components",
        "timeline__user",
        Prefetch(
            "suspects",
            queryset=SuspectChange.objects.select_related(
                "change__pipeline__team", "change__resolved_component", "change__author"
            ),
        ),
    )
