"""The incident page's live poll follows the answer: suspects added, re-ranked and removed while
the page is open reach it, with the conclusion; an action's notice goes once the status does."""

import html
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import correlation, selectors, services
from incidents.models import Incident, IncidentComponent, SuspectChange
from tests.changes.factories import ChangeEventFactory
from tests.changes.ingest import post_json
from tests.incidents.factories import IncidentFactory
from tests.pipelines.factories import DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
KEY = "payments-ci-key-0123"


@pytest.fixture
def incident() -> Incident:
    """An open incident on payments-service, correlated: one suspect, v4.6.0, 30 minutes
    before the alarm."""
    payments = ComponentFactory(name="payments-service", owner_team=None)
    DeploymentPipelineFactory(team=None, key=KEY)
    started = timezone.now() - timedelta(minutes=20)
    incident = IncidentFactory(title="HighErrorRate", started_at=started, environment="production")
    IncidentComponent.objects.create(incident=incident, name=payments.name, component=payments)
    deploy(incident, version="v4.6.0", minutes_before=30)
    correlation.correlate_incident(incident_id=incident.pk)
    return incident


def deploy(incident: Incident, *, version: str, minutes_before: int):
    """A deployment of payments-service stored directly (the incident's history)."""
    return ChangeEventFactory(
        component="payments-service",
        resolved_component=ComponentFactory._meta.model.objects.get(name="payments-service"),
        environment="production",
        version=version,
        pipeline=DeploymentPipelineFactory(team=None),
        occurred_at=incident.started_at - timedelta(minutes=minutes_before),
    )


def record(incident: Incident, capture, *, version: str, minutes_before: int) -> int:
    """A deployment arriving now through the ingest API, correlated as ingest has it (the
    on-commit hand-off, run eagerly)."""
    occurred_at = incident.started_at - timedelta(minutes=minutes_before)
    with capture(execute=True):
        answer = post_json(
            Client(),
            {
                "component": "payments-service",
                "environment": "production",
                "version": version,
                "description": f"Deploy {version}",
                "occurred_at": occurred_at.isoformat(),
            },
            key=KEY,
        )
    assert answer.status_code == 202, answer.content
    return answer.json()["id"]


def poller_url(body: str) -> str:
    """The URL the page's poller asks, as the browser would."""
    match = re.search(r'id="incident-poller"[^>]*hx-get="([^"]+)"', body)
    assert match, "no poller on the page"
    return html.unescape(match.group(1))


def open_page(client: Client, incident: Incident) -> str:
    response = client.get(reverse("incidents:detail", args=[incident.pk]))
    assert response.status_code == 200
    return response.content.decode()


def ranked_in(body: str) -> list[str]:
    """The versions in the suspects list the answer swaps in, in their order."""
    section = body.split('id="suspects"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<code>(v[\d.]+)</code>", section)


def ranked() -> list[str]:
    return list(SuspectChange.objects.order_by("rank").values_list("change__version", flat=True))


def test_a_change_recorded_while_the_page_is_open_is_ranked_in_by_the_poll(
    logged_in_client, incident, django_capture_on_commit_callbacks, django_assert_num_queries
):
    poll = poller_url(open_page(logged_in_client, incident))
    with django_assert_num_queries(3):  # the session, the user, the cursor
        assert logged_in_client.get(poll, headers=HTMX).status_code == 204

    record(incident, django_capture_on_commit_callbacks, version="v4.7.0", minutes_before=4)

    assert ranked() == ["v4.7.0", "v4.6.0"]  # added, and the old #1 re-ranked #2
    answer = logged_in_client.get(poll, headers=HTMX)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert ranked_in(body) == ["v4.7.0", "v4.6.0"]
    assert re.search(r'<section id="suspects"[^>]*hx-swap-oob="true"', body)  # swapped in
    assert "Likely cause: payments-service v4.7.0 deployed 4 min before" in body  # the conclusion
    # The answer carries the poller with the new cursor; asked with it, nothing is new.
    assert poller_url(body) != poll
    assert logged_in_client.get(poller_url(body), headers=HTMX).status_code == 204


def test_a_closer_change_entering_a_full_list_moves_the_cursor_though_the_count_does_not(
    logged_in_client,
    incident,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
    monkeypatch,
):
    """The list is full: the newcomer takes #1, the rest move down and the last drops out,
    all without correlating the incident afresh."""
    monkeypatch.setattr(correlation, "MAX_SUSPECTS", 2)
    deploy(incident, version="v4.5.0", minutes_before=50)
    correlation.correlate_incident(incident_id=incident.pk)
    assert ranked() == ["v4.6.0", "v4.5.0"]
    correlated_at = Incident.objects.get(pk=incident.pk).correlated_at
    poll = poller_url(open_page(logged_in_client, incident))

    record(incident, django_capture_on_commit_callbacks, version="v4.7.0", minutes_before=4)

    assert ranked() == ["v4.7.0", "v4.6.0"]
    assert Incident.objects.get(pk=incident.pk).correlated_at == correlated_at
    answer = logged_in_client.get(poll, headers=HTMX)
    assert answer.status_code == 200
    assert ranked_in(answer.content.decode()) == ["v4.7.0", "v4.6.0"]
    with django_assert_num_queries(3):
        again = logged_in_client.get(poller_url(answer.content.decode()), headers=HTMX)
    assert again.status_code == 204


def test_a_suspect_removed_while_the_page_is_open_leaves_it(logged_in_client, incident):
    """The retention job deletes the older suspect's change; the page stops showing it."""
    newer = deploy(incident, version="v4.7.0", minutes_before=10)
    correlation.correlate_incident(incident_id=incident.pk)
    poll = poller_url(open_page(logged_in_client, incident))
    assert logged_in_client.get(poll, headers=HTMX).status_code == 204

    days = settings.RETENTION_DAYS["changes"]
    services.apply_retention(now=newer.occurred_at + timedelta(days=days, minutes=-5))

    assert ranked() == ["v4.7.0"]
    answer = logged_in_client.get(poll, headers=HTMX)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert ranked_in(body) == ["v4.7.0"] and "v4.6.0" not in body


def test_a_later_report_re_ranking_a_suspect_reaches_the_page(
    logged_in_client, incident, django_capture_on_commit_callbacks
):
    """A rollout running at the alarm is #1; its finish, reported after the page opened,
    puts it behind a closer change."""
    rollout = {
        "component": "payments-service",
        "environment": "production",
        "version": "v4.7.0",
        "deployment_id": "rollout-4.7.0",
    }

    def report(minutes_before: int, outcome: str) -> None:
        at = (incident.started_at - timedelta(minutes=minutes_before)).isoformat()
        with django_capture_on_commit_callbacks(execute=True):
            answer = post_json(Client(), {**rollout, "outcome": outcome, "occurred_at": at}, KEY)
        assert answer.status_code == 202, answer.content

    report(40, "started")
    correlation.correlate_incident(incident_id=incident.pk)
    assert ranked() == ["v4.7.0", "v4.6.0"]  # rolling out at the alarm
    poll = poller_url(open_page(logged_in_client, incident))

    report(35, "succeeded")  # it ended well before the alarm: the 30-minute one is closer

    assert ranked() == ["v4.6.0", "v4.7.0"]
    answer = logged_in_client.get(poll, headers=HTMX)
    assert answer.status_code == 200
    assert ranked_in(answer.content.decode()) == ["v4.6.0", "v4.7.0"]


# --- The notice of an action --------------------------------------------------------------------


def messages_in(body: str) -> str | None:
    """The notice area the answer swaps in, or None when it leaves the page's alone."""
    match = re.search(r'<div id="incident-messages"[^>]*>(.*?)</div>', body, re.DOTALL)
    return match.group(1).strip() if match else None


def mark_confirmed(client: Client, incident: Incident) -> str:
    change_id = SuspectChange.objects.get(incident=incident, rank=1).change_id
    answer = client.post(
        reverse("incidents:verdict", args=[incident.pk]),
        {"change": change_id, "verdict": "confirmed"},
        headers=HTMX,
    )
    body = answer.content.decode()
    assert "Marked as confirmed cause." in messages_in(body)
    return body


def test_the_confirmed_cause_notice_goes_when_a_teammate_changes_the_status(
    logged_in_client, incident
):
    poll = poller_url(mark_confirmed(logged_in_client, incident))
    assert logged_in_client.get(poll, headers=HTMX).status_code == 204

    # A note changes the page, not the status: the notice stays.
    services.add_note(incident=incident, actor=services.Actor(name="dana"), text="Looking")
    noted = logged_in_client.get(poll, headers=HTMX).content.decode()
    assert "Looking" in noted and messages_in(noted) is None
    poll = poller_url(noted)

    teammate = Client()
    teammate.force_login(UserFactory(username="dana"))
    acknowledged = teammate.post(reverse("incidents:acknowledge", args=[incident.pk]), headers=HTMX)
    assert acknowledged.status_code == 200

    answer = logged_in_client.get(poll, headers=HTMX).content.decode()
    assert messages_in(answer) == ""  # swapped for an empty one
    assert 'id="incident-messages" class="flash"' in answer and "Marked as" not in answer
    assert "status=acknowledged" in poller_url(answer)
    # Further answers under the new status leave the page's notices alone.
    services.add_note(incident=incident, actor=services.Actor(name="dana"), text="Rolled back")
    later = logged_in_client.get(poller_url(answer), headers=HTMX).content.decode()
    assert "Rolled back" in later and messages_in(later) is None


@pytest.mark.parametrize(
    ("name", "notice"),
    [("acknowledge", "Acknowledged."), ("resolve", "Resolved.")],
)
def test_the_confirmed_cause_notice_goes_when_the_status_is_changed_on_the_page(
    logged_in_client, incident, name, notice
):
    mark_confirmed(logged_in_client, incident)

    answer = logged_in_client.post(reverse(f"incidents:{name}", args=[incident.pk]), headers=HTMX)

    shown = messages_in(answer.content.decode())
    assert notice in shown and "Marked as" not in shown


def test_the_cursor_moves_on_a_swap_of_ranks_or_a_change_of_confidence(incident):
    """What a re-ranking writes (correlation._rerank's UPDATE), alone: a plain sum of ranks or
    ids would not see two suspects trade places."""
    deploy(incident, version="v4.7.0", minutes_before=10)
    correlation.correlate_incident(incident_id=incident.pk)
    first, second = SuspectChange.objects.filter(incident=incident).order_by("rank")
    before = selectors.incident_cursor(pk=incident.pk)

    SuspectChange.objects.filter(pk=first.pk).update(rank=2)
    SuspectChange.objects.filter(pk=second.pk).update(rank=1)
    swapped = selectors.incident_cursor(pk=incident.pk)
    SuspectChange.objects.filter(pk=first.pk).update(confidence="medium")
    reconsidered = selectors.incident_cursor(pk=incident.pk)

    assert len({before, swapped, reconsidered}) == 3


def test_the_lists_poll_shows_a_late_change_as_the_new_top_suspect(
    logged_in_client, incident, django_capture_on_commit_callbacks
):
    cursor = logged_in_client.get(reverse("incidents:list")).context["listing"].cursor
    live = reverse("incidents:live")
    assert logged_in_client.get(live, query_params={"after": cursor}).status_code == 204

    record(incident, django_capture_on_commit_callbacks, version="v4.7.0", minutes_before=4)

    answer = logged_in_client.get(live, query_params={"after": cursor}, headers=HTMX)
    assert answer.status_code == 200 and "v4.7.0" in answer.content.decode()
