"""The incident pages' filters and small forms."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from incidents.models import Incident, IncidentComponent, SuspectChange
from incidents.selectors import FilterOptions
from pipelines.models import Severity


class IncidentListFilter(django_filters.FilterSet):
    """The incidents list's filters; they live in the URL. Choices come from `filter_options()`,
    read once per request, so validating them costs no query."""

    status = django_filters.ChoiceFilter(
        label="Status", choices=Incident.Status.choices, empty_label="Any status"
    )
    severity = django_filters.ChoiceFilter(
        label="Severity", choices=Severity.choices, empty_label="Any severity"
    )
    team = django_filters.ChoiceFilter(
        label="Team", field_name="team__slug", empty_label="Any team"
    )
    source = django_filters.ChoiceFilter(
        label="Source", field_name="alert_source__name", empty_label="Any source"
    )
    component = django_filters.ChoiceFilter(
        label="Component", method="filter_component", empty_label="Any component"
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
        """By the name the alert gave or the catalog component it resolved to."""
        named = IncidentComponent.objects.filter(incident=OuterRef("pk")).filter(
            Q(name=value) | Q(component__name=value)
        )
        return queryset.filter(Exists(named))

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
