"""Filters of the deployment-events page and the change read API (one FilterSet for both)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.forms.models import ModelChoiceIterator
from django.utils import timezone

from changes.models import ChangeEvent, search_text
from common.cache import read_through
from common.widgets import FastSelect
from pipelines.models import DeploymentPipeline
from teams.components import normalise_component_name
from teams.models import ComponentAlias, Team

RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
# The trigram index answers words of three letters or more. No index answers a shorter one,
# and looking for it in every change walks the whole history when it is rare (seconds on a
# million changes): such a search reads the newest SHORT_SEARCH_CHANGES changes only, a walk
# down the time index that costs the same however long the history, and the page and the API
# say so.
SEARCH_WORDS = 5
TRIGRAM = 3
SHORT_SEARCH_CHANGES = 10_000
SHORT_SEARCH_START_SECONDS = 60
# The `status` filter: a change's API `status`, with `running` for a change still rolling out.
RUNNING = "running"
STATUSES = [
    (RUNNING, "Rolling out"),
    (ChangeEvent.Outcome.SUCCEEDED, "Succeeded"),
    (ChangeEvent.Outcome.FAILED, "Failed"),
    (ChangeEvent.Outcome.CANCELLED, "Cancelled"),
    (ChangeEvent.ROLLED_BACK, "Rolled back"),
]


class NamedOptions(ModelChoiceIterator):
    """<option>s from two columns (value, name), not whole model instances: the deployments
    page lists every pipeline and team on every visit."""

    def __iter__(self) -> Iterator[tuple[Any, str]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self.queryset.values_list(self.field.to_field_name or "pk", "name")


class NamedChoiceField(django_filters.fields.ModelChoiceField):
    iterator = NamedOptions


class NamedChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = NamedChoiceField


class ChangeFilter(django_filters.FilterSet):
    """Every filter lives in the query string, so a filtered view is a link to share."""

    q = django_filters.CharFilter(method="filter_text", label="Search")
    team = NamedChoiceFilter(
        queryset=Team.objects.all(),
        to_field_name="slug",
        method="filter_team",
        empty_label="All teams",
        help_text="team slug",
        widget=FastSelect,
    )
    component = django_filters.CharFilter(method="filter_component")
    environment = django_filters.CharFilter(lookup_expr="iexact")
    pipeline = NamedChoiceFilter(
        queryset=DeploymentPipeline.objects.all(),
        empty_label="All pipelines",
        widget=FastSelect,
    )
    kind = django_filters.ChoiceFilter(
        choices=ChangeEvent.Kind.choices, empty_label="All kinds", widget=FastSelect
    )
    status = django_filters.ChoiceFilter(
        choices=STATUSES,
        method="filter_status",
        empty_label="Any status",
        help_text="running, succeeded, failed, cancelled or rolled_back",
        widget=FastSelect,
    )
    # The outcome as reported, rolled back or not: kept for the links and scripts made before
    # `status`.
    outcome = django_filters.ChoiceFilter(
        choices=ChangeEvent.Outcome.choices, empty_label="All outcomes", widget=FastSelect
    )
    range = django_filters.ChoiceFilter(
        choices=[(key, f"Last {key}") for key in RANGES],
        method="filter_range",
        empty_label="Any time",
        label="Time",
        widget=FastSelect,
    )
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = ChangeEvent
        fields = (
            "q",
            "team",
            "component",
            "environment",
            "pipeline",
            "kind",
            "status",
            "outcome",
        )

    @property
    def search_notice(self) -> str:
        """What the page and the API say when the search read the newest changes only."""
        searched = self.form.cleaned_data.get("q") if self.is_bound and self.is_valid() else ""
        if not searched or not _has_short_word(searched):
            return ""
        return (
            f"Words of one or two letters search the newest {SHORT_SEARCH_CHANGES:,} changes "
            "only: type three letters or more to search them all."
        )

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Summary, description, version, component or commit contains each word (on
        PostgreSQL, a trigram index answers words of three letters or more); with a shorter
        word, among the newest SHORT_SEARCH_CHANGES changes only."""
        bounded = _has_short_word(value)
        queryset = queryset.alias(search_text=search_text(indexed=not bounded))
        for word in value.split()[:SEARCH_WORDS]:
            queryset = queryset.filter(search_text__icontains=word)
        if bounded:
            queryset = queryset.filter(occurred_at__gte=_short_search_start())
        return queryset

    def filter_component(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """By the name as sent or the catalog component it resolved to (aliases included)."""
        value = normalise_component_name(value)
        # A subquery rather than a join through aliases: no duplicate rows, no DISTINCT.
        aliased = ComponentAlias.objects.filter(name=value).values("component_id")
        return queryset.filter(
            Q(component=value)
            | Q(resolved_component__name=value)
            | Q(resolved_component__in=aliased)
        )

    def filter_team(self, queryset: QuerySet, name: str, value: Team) -> QuerySet:
        """A team's changes: from its pipelines, or manual ones on components it owns (the team
        stored on each change: changes.ownership)."""
        return queryset.filter(team=value)

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """The changes whose `status` is `value`: a rolled-back change is `rolled_back` only,
        whatever its own outcome; `running` is one still rolling out."""
        if value == ChangeEvent.ROLLED_BACK:
            return queryset.filter(rolled_back_by__isnull=False)
        outcome = ChangeEvent.Outcome.STARTED if value == RUNNING else value
        return queryset.filter(outcome=outcome, rolled_back_by__isnull=True)

    def filter_range(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(occurred_at__gte=timezone.now() - RANGES[value])


def _has_short_word(value: str) -> bool:
    return any(len(word) < TRIGRAM for word in value.split()[:SEARCH_WORDS])


def _short_search_start() -> datetime:
    """When the SHORT_SEARCH_CHANGES-th newest change occurred (the beginning of time when
    there are fewer), cached for a minute: newer changes are in the search whatever the bound,
    so a bound a minute old only adds that minute's changes. A constant rather than a subquery,
    so that PostgreSQL plans a walk of those changes, never a scan of the whole table."""

    def nth_newest() -> datetime:
        newest = ChangeEvent.objects.order_by("-occurred_at", "-id").values_list(
            "occurred_at", flat=True
        )
        start = newest[SHORT_SEARCH_CHANGES - 1 : SHORT_SEARCH_CHANGES].first()
        return start or datetime(1, 1, 1, tzinfo=UTC)

    key = f"changes:short-search-start:{SHORT_SEARCH_CHANGES}"
    return read_through(key, nth_newest, timeout=SHORT_SEARCH_START_SECONDS)
