import django_filters
from django.db.models import Q, QuerySet

from changes.models import ChangeEvent
from teams.components import normalise_component_name


class ChangeFilter(django_filters.FilterSet):
    """Filters of the change read API (and, later, the deployment-events page)."""

    component = django_filters.CharFilter(method="filter_component")
    environment = django_filters.CharFilter(lookup_expr="iexact")
    team = django_filters.CharFilter(method="filter_team", help_text="team slug")
    pipeline = django_filters.NumberFilter(field_name="pipeline_id")
    kind = django_filters.ChoiceFilter(choices=ChangeEvent.Kind.choices)
    outcome = django_filters.ChoiceFilter(choices=ChangeEvent.Outcome.choices)
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = ChangeEvent
        fields = ("component", "environment", "team", "pipeline", "kind", "outcome")

    def filter_component(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """By the name as sent or the catalog component it resolved to (aliases included)."""
        value = normalise_component_name(value)
        return queryset.filter(
            Q(component=value)
            | Q(resolved_component__name=value)
            | Q(resolved_component__aliases__name=value)
        ).distinct()

    def filter_team(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """A team's changes: from its pipelines, or manual ones on components it owns."""
        return queryset.filter(
            Q(pipeline__team__slug=value)
            | Q(pipeline__isnull=True, resolved_component__owner_team__slug=value)
        )
