import django_filters
from django.db.models import QuerySet

from incidents.models import Alert, Incident
from pipelines.models import Severity
from teams.components import normalise_component_name

STATUS_CHOICES = (*Incident.Status.choices, ("open", "Open (triggered or acknowledged)"))


class IncidentFilter(django_filters.FilterSet):
    alias = django_filters.CharFilter(
        method="filter_alias", help_text="the incident holding an alert of this alias"
    )
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status")
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    team = django_filters.CharFilter(field_name="team__slug", help_text="team slug")
    source = django_filters.CharFilter(
        field_name="alert_source__name", help_text="alert source name"
    )
    component = django_filters.CharFilter(method="filter_component")
    since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = ("alias", "status", "severity", "team", "source", "component")

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return queryset.filter(status__in=Incident.OPEN_STATUSES)
        return queryset.filter(status=value)

    def filter_alias(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(id__in=Alert.objects.filter(alias=value).values("incident_id"))

    def filter_component(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(components__name=normalise_component_name(value)).distinct()
