import factory
from django.utils import timezone

from incidents.models import Incident, SuspectChange, TimelineEntry
from tests.changes.factories import ChangeEventFactory
from tests.pipelines.factories import AlertSourceFactory


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Alarm {n}")
    alias = factory.Sequence(lambda n: f"alias-{n}")
    alert_source = factory.SubFactory(AlertSourceFactory)
    started_at = factory.LazyFunction(timezone.now)
    last_alert_at = factory.LazyAttribute(lambda incident: incident.started_at)


class TimelineEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEntry

    incident = factory.SubFactory(IncidentFactory)
    at = factory.LazyFunction(timezone.now)
    kind = TimelineEntry.Kind.ALERT
    actor = "cloudwatch"


class SuspectChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuspectChange

    incident = factory.SubFactory(IncidentFactory)
    change = factory.SubFactory(ChangeEventFactory)
    score = 1.0
    rank = 1
    reasons = factory.LazyFunction(lambda: ["component match"])
