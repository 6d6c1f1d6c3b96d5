"""The incident pages' filters and small forms."""

import django_filters
from django import forms
from django.db.models import Q, QuerySet, Subquery

from common.widgets import FastSelect
from incidents.models import Incident, IncidentComponent, SuspectChange
from incidents.selectors import FilterOptions
from pipelines.models import Severity
from teams.models import Component


class IncidentListFilter(django_filters.FilterSet):
    """The incidents list's filters; they live in the URL. Choices come from `filter_options()`,
    read once per request, so validating them costs no query."""

    status = django_filters.ChoiceFilter(
        label="Status", choices=Incident.Status.choices, empty_label="Any status", widget=FastSelect
    )
    severity = django_filters.ChoiceFilter(
        label="Severity", choices=Severity.choices, empty_label="Any severity", widget=FastSelect
    )
    team = django_filters.ChoiceFilter(
        label="Team", field_name="team__slug", empty_label="Any team", widget=FastSelect
    )
    source = django_filters.ChoiceFilter(
        label="Source", field_name="alert_source__name", empty_label="Any source", widget=FastSelect
    )
    component = django_filters.ChoiceFilter(
        label="Component", method="filter_component", empty_label="Any component", widget=FastSelect
    )

    class Meta:
        model = Incident
        fields = ("status", "severity", "team", "source", "component")

    def __init__(self, data: object, queryset: QuerySet[Incident], *, options: FilterOptions):
        super().__init__(data, queryset=queryset)
        self.filters["team"].extra["choices"] = options.teams
        self.filters["source"].extra["choices"] = options.sources
        self.filters["component"].extra["choices"] = options.components

    def filter_component(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """By the name the alert gave or the catalog component it resolved to.

        The incidents that have it, found from the two indexes (name, component) rather than
        by asking each incident in turn: a component is in few of them. The catalog's name is
        unique, so its id is one value the component index can look up."""
        catalog = Component.objects.filter(name=value).values("pk")[:1]
        named = IncidentComponent.objects.filter(Q(name=value) | Q(component=Subquery(catalog)))
        return queryset.filter(pk__in=named.values("incident_id"))

    @property
    def chosen_status(self) -> str:
        """The status filter's value when valid ("" for any), whatever the other filters say."""
        if not self.is_bound:
            return ""
        self.form.is_valid()  # cleaned_data then holds every valid field
        return self.form.cleaned_data.get("status") or ""

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.filters)


class VerdictForm(forms.Form):
    """An engineer's verdict on one suspect change ("" clears it)."""

    change = forms.IntegerField(min_value=1)
    verdict = forms.ChoiceField(choices=SuspectChange.Verdict.choices, required=False)
