import factory
from django.utils import timezone

from incidents.models import Alert, Incident, SuspectChange, TimelineEntry
from tests.changes.factories import ChangeEventFactory
from tests.pipelines.factories import AlertSourceFactory


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident
        skip_postgeneration_save = True  # the hook writes the alert, not the incident

    title = factory.Sequence(lambda n: f"Alarm {n}")
    alias = factory.Sequence(lambda n: f"alias-{n}")
    alert_source = factory.SubFactory(AlertSourceFactory)
    started_at = factory.LazyFunction(timezone.now)
    last_alert_at = factory.LazyAttribute(lambda incident: incident.started_at)

    @factory.post_generation
    def first_alert(incident: Incident, create: bool, extracted: object, **kwargs: object) -> None:
        """Its first alert, as the services make it: the same alias, title, severity, status."""
        if not create:
            return
        Alert.objects.create(
            incident=incident,
            alert_source=incident.alert_source,
            alias=incident.alias,
            title=incident.title,
            severity=incident.severity,
            status=Alert.Status.TRIGGERED if incident.is_open else Alert.Status.RESOLVED,
            started_at=incident.started_at,
            resolved_at=None if incident.is_open else incident.resolved_at,
        )


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
