"""The periodic jobs and the recompute command."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from changes.models import ChangeEvent
from config.celery import app
from incidents import services
from incidents.models import Incident, SuspectChange
from pipelines.models import Delivery
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import AlertSourceFactory

pytestmark = pytest.mark.django_db


def test_beat_runs_the_sweep_auto_resolve_and_retention():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {"incidents.sweep", "incidents.auto_resolve", "incidents.apply_retention"}
    app.loader.import_default_modules()
    assert scheduled <= set(app.tasks)


def test_quiet_incidents_resolve_themselves():
    now = timezone.now()
    quiet_source = AlertSourceFactory(quiet_period_minutes=30)
    quiet = IncidentFactory(alert_source=quiet_source, last_alert_at=now - timedelta(minutes=31))
    recent = IncidentFactory(alert_source=quiet_source, last_alert_at=now - timedelta(minutes=5))
    no_period = IncidentFactory(last_alert_at=now - timedelta(days=2))

    assert services.auto_resolve_quiet_incidents(now=now) == 1
    assert services.auto_resolve_quiet_incidents(now=now) == 0

    quiet.refresh_from_db()
    assert (quiet.status, quiet.resolved_by_rule) == ("resolved", "quiet period")
    assert quiet.timeline.get().actor == "quiet period"
    for other in (recent, no_period):
        other.refresh_from_db()
        assert other.status == "triggered"


def test_retention_deletes_only_what_is_old_enough(settings):
    now = timezone.now()
    old = now - timedelta(days=400)
    ChangeEventFactory(occurred_at=old)
    kept_change = ChangeEventFactory(occurred_at=now - timedelta(days=10))
    IncidentFactory(status="resolved", started_at=old, resolved_at=old)
    still_open = IncidentFactory(status="triggered", started_at=old, last_alert_at=old)
    Delivery.objects.create(
        alert_source=still_open.alert_source,
        received_at=now - timedelta(days=31),
        status_code=202,
        outcome="accepted",
        size=2,
    )

    deleted = services.apply_retention(now=now)

    assert (deleted["changes"], deleted["incidents"], deleted["deliveries"]) == (1, 1, 1)
    assert list(ChangeEvent.objects.all()) == [kept_change]
    assert list(Incident.objects.all()) == [still_open]


def test_recorrelate_command_recomputes_a_time_range(capsys):
    incident = IncidentFactory(started_at=timezone.now() - timedelta(hours=1))
    ChangeEventFactory(occurred_at=incident.started_at - timedelta(minutes=3))
    call_command("recorrelate", "--since", (timezone.now() - timedelta(days=1)).isoformat())
    assert "1 incident" in capsys.readouterr().out
    assert SuspectChange.objects.filter(incident=incident).count() == 1


def test_recorrelate_refuses_bad_times():
    with pytest.raises(CommandError) as raised:
        call_command("recorrelate", "--since", "last tuesday")
    assert raised.value.returncode == 2
