"""The incident pages through the real views: list, incident, live polls, actions, escaping."""

import html
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from changes.models import ChangeEvent
from common.pagination import encode_cursor
from incidents import correlation, presenters, selectors, services
from incidents.models import Incident, IncidentComponent, SuspectChange, TimelineEntry
from teams.models import Component
from tests.changes.factories import ChangeEventFactory
from tests.incidents.factories import IncidentFactory, SuspectChangeFactory, TimelineEntryFactory
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
XSS = "<script>alert(1)</script>"


def make_incident(title: str = "HighErrorRate", *, components=("payments-service",), **fields):
    fields.setdefault("started_at", timezone.now() - timedelta(minutes=25))
    incident = IncidentFactory(title=title, **fields)
    IncidentComponent.objects.bulk_create(
        IncidentComponent(incident=incident, name=name, component=catalog)
        for name in components
        for catalog in [Component.objects.filter(name=name).first()]
    )
    return incident


def suspect(incident: Incident, *, rank: int = 1, reasons=None, **change_fields) -> SuspectChange:
    change_fields.setdefault("occurred_at", incident.started_at - timedelta(minutes=8))
    change = ChangeEventFactory(**change_fields)
    return SuspectChangeFactory(
        incident=incident,
        change=change,
        rank=rank,
        score=4000 - rank,
        reasons=reasons if reasons is not None else ["component match", "8 minutes before"],
    )


def page(client: Client, url: str, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def app_queries(captured: CaptureQueriesContext) -> list[str]:
    """The queries a view made itself, beside loading the session and the user."""
    return [
        query["sql"]
        for query in captured.captured_queries
        if "django_session" not in query["sql"] and '"auth_user"' not in query["sql"]
    ]


# --- Presenter ----------------------------------------------------------------------------------


def presented(reasons, **change_fields) -> str:
    change_fields = {"component": "payments-service", "version": "v4.7.0", **change_fields}
    return presenters.describe_suspect(
        SuspectChange(change=ChangeEvent(**change_fields), reasons=reasons, rank=1, score=1)
    )


def test_presenter_says_the_demo_sentence():
    reasons = ["component match", "8 minutes before", "same environment (production)", "same team"]
    assert presented(reasons) == (
        "payments-service v4.7.0 deployed 8 min before the alarm · same component · same team"
    )


@pytest.mark.parametrize(
    ("reasons", "fields", "sentence"),
    [
        (
            ["component match", "1 minute before", "failed deployment"],
            {"outcome": "failed"},
            "payments-service v4.7.0 failed to deploy 1 min before the alarm · same component",
        ),
        (
            ["payments-service depends on postgres-main", "125 minutes before", "rollback"],
            {"component": "postgres-main", "kind": "rollback", "version": "v15"},
            "postgres-main v15 rolled back 2 h 5 min before the alarm · payments-service depends "
            "on postgres-main",
        ),
        (
            ["at the start", "staging, not production"],
            {"kind": "config", "version": "", "commit": "9e41c07b3d2a"},
            "payments-service 9e41c07 config changed as the alarm started · staging, not "
            "production",
        ),
        (
            ["3 minutes after the start", "something new"],
            {"kind": "feature_flag", "outcome": "started"},
            "flag v4.7.0 started changing 3 min after the alarm started · something new",
        ),
        (
            [],
            {"component": "", "version": "", "summary": "Rotate TLS certs", "kind": "other"},
            "Rotate TLS certs changed",
        ),
    ],
)
def test_presenter_turns_reasons_into_plain_words(reasons, fields, sentence):
    assert presented(reasons, **{"kind": "deployment", **fields}) == sentence


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        (
            {"summary": "Turned on checkout-new-pricing"},
            "flag checkout-new-pricing turned on for production by dana@example.com 6 min before "
            "the alarm",
        ),
        (
            {"summary": "Dana turned off the flag checkout-new-pricing in Production"},
            "flag checkout-new-pricing turned off for production by dana@example.com 6 min "
            "before the alarm",
        ),
        (
            {"summary": "Enabled checkout-new-pricing in production"},
            "flag checkout-new-pricing turned on for production by dana@example.com 6 min before "
            "the alarm",
        ),
        (
            {"summary": "Changed targeting of checkout-new-pricing", "triggered_by": ""},
            "flag checkout-new-pricing re-targeted for production 6 min before the alarm",
        ),
        (
            {"summary": "Changed the value of checkout-new-pricing in Production to 42"},
            "flag checkout-new-pricing changed for production by dana@example.com 6 min before "
            "the alarm",
        ),
        (
            {"version": "show-deleted-items", "summary": "Changed the value of show-deleted-items"},
            "flag show-deleted-items changed for production by dana@example.com 6 min before the "
            "alarm",
        ),
        (
            {"summary": "Flag deleted", "environment": ""},
            "flag checkout-new-pricing deleted by dana@example.com 6 min before the alarm",
        ),
        (
            {"summary": "Turned on checkout-new-pricing", "outcome": "failed"},
            "flag checkout-new-pricing failed to change for production by dana@example.com 6 min "
            "before the alarm",
        ),
    ],
)
def test_a_flag_change_says_which_flag_what_became_of_it_where_and_by_whom(fields, sentence):
    fields = {
        "kind": "feature_flag",
        "component": "checkout",
        "version": "checkout-new-pricing",
        "environment": "production",
        "triggered_by": "dana@example.com",
        **fields,
    }
    assert presented(["6 minutes before", "same environment (production)"], **fields) == sentence


@pytest.mark.parametrize(
    ("outcome", "sentence"),
    [
        ("succeeded", "payments-db infrastructure applied 6 min before the alarm · same component"),
        (
            "failed",
            "payments-db infrastructure failed to apply 6 min before the alarm · same component",
        ),
        (
            "started",
            "payments-db infrastructure started applying 6 min before the alarm · same component",
        ),
        (
            "cancelled",
            "payments-db infrastructure apply cancelled 6 min before the alarm · same component",
        ),
    ],
)
def test_an_infrastructure_change_says_it_was_applied(outcome, sentence):
    reasons = ["component match", "6 minutes before"]
    fields = {"kind": "infrastructure", "component": "payments-db", "version": "run-CLuyKC7"}
    assert presented(reasons, outcome=outcome, **fields) == sentence


def test_the_incident_page_says_a_flag_suspect_in_words(logged_in_client):
    incident = make_incident(components=("checkout",))
    suspect(
        incident,
        reasons=["component match", "6 minutes before", "same environment (production)"],
        kind="feature_flag",
        component="checkout",
        version="checkout-new-pricing",
        environment="production",
        triggered_by="dana@example.com",
        summary="Turned on checkout-new-pricing",
        occurred_at=incident.started_at - timedelta(minutes=6),
    )

    body = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))

    assert (
        "flag checkout-new-pricing turned on for production by dana@example.com 6 min before "
        "the alarm · same component"
    ) in body
    assert '<span class="change-kind kind-feature_flag">Feature flag</span>' in body
    timeline = body[body.index('id="timeline"') :]
    # Said once on the timeline: the flag's sentence names who already.
    assert "turned on for production by dana@example.com<" in timeline.replace("\n", "")


def test_lateness_counts_only_over_a_minute():
    at = timezone.now()
    late = SuspectChange(change=ChangeEvent(occurred_at=at, received_at=at + timedelta(minutes=14)))
    on_time = SuspectChange(
        change=ChangeEvent(occurred_at=at, received_at=at + timedelta(seconds=50))
    )
    assert presenters.lateness(late) == timedelta(minutes=14)
    assert presenters.lateness(on_time) is None


# --- Incidents list -----------------------------------------------------------------------------


def test_list_shows_open_incidents_first_with_their_top_suspect(logged_in_client):
    resolved = make_incident("Old disk alarm", status=Incident.Status.RESOLVED)
    resolved.resolved_at = resolved.started_at + timedelta(minutes=42)
    resolved.save()
    open_one = make_incident("HighErrorRate")
    suspect(open_one, component="payments-service", version="v4.7.0")

    body = page(logged_in_client, reverse("incidents:list"))

    assert body.index("HighErrorRate") < body.index("Old disk alarm")
    assert "Top suspect:" in body and "payments-service v4.7.0" in body
    assert "after 42" in body  # how long the resolved one lasted


def test_list_filters_by_status_severity_team_source_and_component(logged_in_client):
    payments = TeamFactory(slug="payments", name="Payments")
    source = AlertSourceFactory(name="cloudwatch-prod")
    ComponentFactory(name="checkout-api")
    make_incident("Payments alarm", team=payments, severity="critical", alert_source=source)
    make_incident("Checkout alarm", components=("checkout-api",), severity="low")
    make_incident("Resolved alarm", status=Incident.Status.RESOLVED)
    url = reverse("incidents:list")

    def shown(**query) -> set[str]:
        body = page(logged_in_client, url, query_params=query)
        return {t for t in ("Payments alarm", "Checkout alarm", "Resolved alarm") if t in body}

    assert shown() == {"Payments alarm", "Checkout alarm", "Resolved alarm"}
    assert shown(status="resolved") == {"Resolved alarm"}
    assert shown(status="triggered") == {"Payments alarm", "Checkout alarm"}
    assert shown(severity="critical") == {"Payments alarm"}
    assert shown(team="payments") == {"Payments alarm"}
    assert shown(source="cloudwatch-prod") == {"Payments alarm"}
    assert shown(component="checkout-api") == {"Checkout alarm"}
    assert shown(team="payments", severity="low") == set()
    # An unknown value is reported, not a 500, and filters nothing.
    body = page(logged_in_client, url, query_params={"team": "nope"})
    assert "Select a valid choice" in body and "Checkout alarm" in body


def test_filters_live_in_the_url_and_htmx_gets_the_results_fragment(logged_in_client):
    make_incident("Payments alarm", severity="critical")
    make_incident("Checkout alarm", severity="low")
    body = page(logged_in_client, reverse("incidents:list"))
    form = re.search(r"<form class=\"filters\"[^>]*>", body, re.S).group(0)
    assert 'method="get"' in form and 'hx-push-url="true"' in form
    assert 'hx-target="#incident-results"' in form

    fragment = page(
        logged_in_client, reverse("incidents:list"), query_params={"severity": "low"}, headers=HTMX
    )

    assert "<html" not in fragment and 'id="incident-results"' in fragment
    assert "Checkout alarm" in fragment and "Payments alarm" not in fragment
    # The live poll keeps the filters.
    assert re.search(r'hx-get="/incidents/live/\?[^"]*severity=low', fragment)


def test_every_hx_get_also_has_an_href(logged_in_client):
    incident = make_incident()
    suspect(incident)
    for number in range(55):
        make_incident(f"Resolved {number}", status=Incident.Status.RESOLVED)
    for url in (reverse("incidents:list"), reverse("incidents:detail", args=[incident.pk])):
        body = page(logged_in_client, url)
        tags = re.findall(r"<\w+\b[^>]*\shx-get=[^>]*>", body, re.S)
        assert tags
        for tag in tags:
            assert re.search(r'^<(a\s[^>]*href|form\s[^>]*action)="[^"]+"', tag, re.S), tag


def test_load_older_pages_resolved_incidents_by_keyset_keeping_filters(logged_in_client):
    base = timezone.now() - timedelta(days=2)
    for number in range(60):
        make_incident(
            f"Resolved #{number:02d}",
            status=Incident.Status.RESOLVED,
            severity="high",
            started_at=base - timedelta(minutes=number),
        )
    make_incident("Low one", status=Incident.Status.RESOLVED, severity="low")
    url = reverse("incidents:list")

    first = logged_in_client.get(url, query_params={"severity": "high"})
    listing = first.context["listing"]
    assert len(listing.resolved.items) == 50 and listing.resolved.next_cursor
    more = re.search(r'<a href="([^"]*before=[^"]*)"\s+hx-get="([^"]*)"', first.content.decode())
    href = html.unescape(more.group(1))
    assert href == html.unescape(more.group(2)) and "severity=high" in href

    with CaptureQueriesContext(connection) as captured:
        older = logged_in_client.get(href, headers=HTMX)

    body = older.content.decode()
    assert "<html" not in body and "<tr" in body
    # A fragment includes no template (its rows are built in Python), so the test client
    # records no context for it: its titles are read from what it shows.
    shown = {i.title for i in listing.resolved.items} | set(
        re.findall(r">(Resolved #\d\d)</a>", body)
    )
    assert shown == {f"Resolved #{number:02d}" for number in range(60)}
    assert "Load older" not in body
    assert not any("OFFSET" in query["sql"].upper() for query in captured.captured_queries)


def test_list_poll_answers_204_in_one_query_until_something_changes(
    logged_in_client, django_assert_max_num_queries
):
    incident = make_incident("HighErrorRate")
    cursor = logged_in_client.get(reverse("incidents:list")).context["listing"].cursor
    live = reverse("incidents:live")

    with CaptureQueriesContext(connection) as captured:
        response = logged_in_client.get(live, query_params={"after": cursor}, headers=HTMX)
    assert response.status_code == 204 and len(app_queries(captured)) == 1

    services.acknowledge_incident(incident=incident, actor=services.Actor(name="dana"))
    changed = logged_in_client.get(live, query_params={"after": cursor}, headers=HTMX)
    body = changed.content.decode()
    assert changed.status_code == 200 and 'id="open-incidents"' in body and "<html" not in body
    assert "Acknowledged" in body
    # The fragment records no context (see above): its poller asks with the list's cursor now.
    new_cursor = selectors.list_cursor()
    assert new_cursor != cursor and f"after={new_cursor}" in body
    assert logged_in_client.get(live, query_params={"after": new_cursor}).status_code == 204

    newer = make_incident("Brand new alarm")
    arrived = page(logged_in_client, live, query_params={"after": new_cursor}, headers=HTMX)
    assert "Brand new alarm" in arrived
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Brand new alarm", arrived, re.S).group(0)
    assert 'class="is-new"' in row and newer.pk > incident.pk


def test_list_poll_notices_correlation_of_an_open_incident(logged_in_client):
    incident = make_incident("HighErrorRate")
    live = reverse("incidents:live")
    cursor = logged_in_client.get(reverse("incidents:list")).context["listing"].cursor
    ChangeEventFactory(occurred_at=incident.started_at - timedelta(minutes=3))

    correlation.correlate_incident(incident_id=incident.pk)

    response = logged_in_client.get(live, query_params={"after": cursor})
    assert response.status_code == 200 and "Top suspect:" in response.content.decode()


def list_row(body: str, title: str) -> str:
    """The list's `<tr>` that links to the incident titled `title` (as escaped in the page)."""
    return re.search(rf"<tr[^>]*>(?:(?!</tr>).)*>{re.escape(title)}</a>.*?</tr>", body, re.S).group(
        0
    )


def test_a_row_shows_every_cell_with_payload_text_escaped(logged_in_client):
    """The row is built in Python (incidents.templatetags.incident_rows): what it shows, cell by
    cell, each text from a payload or a person escaped."""
    source = AlertSourceFactory(name="<b>source</b>")
    team = TeamFactory(name="<i>team</i>")
    started = timezone.now() - timedelta(hours=3)
    incident = make_incident(
        "<u>Title</u>",
        components=("<s>api</s>", "db & cache"),
        alert_source=source,
        team=team,
        severity="critical",
        status=Incident.Status.RESOLVED,
        started_at=started,
        resolved_at=started + timedelta(minutes=42),
        repeat_count=2,
    )
    suspect(incident, component="<em>payments</em>", version="<v4.7.0>")
    make_incident("Quiet one", components=(), alert_source=None)

    body = page(logged_in_client, reverse("incidents:list"))

    row = list_row(body, "&lt;u&gt;Title&lt;/u&gt;")
    assert f'href="{reverse("incidents:detail", args=[incident.pk])}"' in row
    assert '<span class="badge severity-critical">Critical</span>' in row
    assert '<span class="badge status-resolved">Resolved</span>' in row
    assert "after 42\xa0minutes" in row
    assert 'title="alerts received">&times;3</span>' in row  # the first alert and two repeats
    assert "Top suspect:</span> &lt;em&gt;payments&lt;/em&gt; &lt;v4.7.0&gt;" in row
    assert '<span class="chip">&lt;s&gt;api&lt;/s&gt;</span> ' in row
    assert '<span class="chip">db &amp; cache</span>' in row
    assert "<td>&lt;b&gt;source&lt;/b&gt;</td>" in row and "<td>&lt;i&gt;team&lt;/i&gt;</td>" in row
    assert "<u>" not in body and "<em>payments" not in body and "<b>source" not in body
    assert '<time datetime="' in row  # when it started, as on every page
    # Without source, team, components or suspect: dashes, no suspect line, no count.
    empty = list_row(body, "Quiet one")
    assert empty.count("<td>—</td>") == 2 and '<span class="muted">—</span>' in empty
    assert "Top suspect" not in empty and "&times;" not in empty and "after" not in empty


def test_component_filter_finds_alias_names_and_catalog_components_once(logged_in_client):
    """By the catalog component an alert's name resolved to, or by the name itself (an alert
    from before the catalog knew it); an incident matching both ways is listed once."""
    payments = ComponentFactory(name="payments-service")
    by_alias = make_incident("Alias alarm", components=())
    IncidentComponent.objects.create(incident=by_alias, name="payments-prod", component=payments)
    by_name = make_incident("Name alarm", components=())
    IncidentComponent.objects.create(incident=by_name, name="payments-service", component=None)
    both = make_incident("Both alarm", components=("payments-service",))
    IncidentComponent.objects.create(incident=both, name="payments-eu", component=payments)
    make_incident("Other alarm", components=("checkout-api",))

    body = page(
        logged_in_client, reverse("incidents:list"), query_params={"component": "payments-service"}
    )

    assert "Alias alarm" in body and "Name alarm" in body and "Other alarm" not in body
    assert len(re.findall(r">Both alarm</a>", body)) == 1


def test_with_no_incident_open_the_poll_still_notices_a_new_one(logged_in_client):
    """The live cursor then rides on the resolved rows: same answers, no query of its own."""
    make_incident("Old alarm", status=Incident.Status.RESOLVED)
    body = page(logged_in_client, reverse("incidents:list"))
    poll = html.unescape(re.search(r'hx-get="(/incidents/live/[^"]+)"', body).group(1))

    assert logged_in_client.get(poll, headers=HTMX).status_code == 204

    make_incident("Brand new alarm")
    answer = page(logged_in_client, poll, headers=HTMX)
    assert "Brand new alarm" in answer and 'class="is-new"' in answer


def test_empty_list_guides(logged_in_client):
    body = page(logged_in_client, reverse("incidents:list"))
    assert "No open incidents." in body and "No resolved incidents yet" in body


# --- Incident page --------------------------------------------------------------------------------


def test_incident_page_header_suspects_and_merged_timeline(logged_in_client):
    team = TeamFactory(name="Payments")
    incident = make_incident("HighErrorRate", severity="critical", team=team, repeat_count=1)
    TimelineEntryFactory(incident=incident, at=incident.started_at, actor="cloudwatch-prod")
    TimelineEntryFactory(
        incident=incident,
        at=incident.started_at + timedelta(minutes=5),
        kind=TimelineEntry.Kind.NOTE,
        actor="dana",
        data={"text": "Rolling back v4.7.0"},
    )
    suspect(
        incident,
        reasons=[
            "component match",
            "8 minutes before",
            "same environment (production)",
            "same team",
        ],
        version="v4.7.0",
        summary="Deploy payments-service v4.7.0",
    )
    suspect(
        incident,
        rank=2,
        reasons=["30 minutes before"],
        component="postgres-main",
        version="v15",
        occurred_at=incident.started_at - timedelta(minutes=30),
    )
    ChangeEventFactory(summary="Not a suspect", occurred_at=incident.started_at)

    body = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))

    for text in ("HighErrorRate", "Triggered", "Critical", "Payments", "payments-service"):
        assert text in body
    assert "open for <strong>25 min</strong>" in body and "2 alerts" in body
    first = "payments-service v4.7.0 deployed 8 min before the alarm · same component · same team"
    assert first in body
    assert body.index("#1") < body.index("#2")
    timeline = body[body.index('id="timeline"') :]
    order = [
        "postgres-main v15 deployed by dana-ops",
        "payments-service v4.7.0 deployed by dana-ops",
        "Alert from ",
        "Rolling back v4.7.0",
    ]
    positions = [timeline.index(text) for text in order]
    assert positions == sorted(positions)
    assert "Not a suspect" not in body
    for kind in ("change", "alert", "note"):
        assert f'kind-{kind}">{kind}</span>' in timeline


def test_the_demo_incident_names_its_culprit(logged_in_client):
    call_command("seed_demo")
    incident = Incident.objects.get(alias="cloudwatch-HighErrorRate")
    body = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))
    assert (
        "payments-service v4.7.0 deployed 14 min before the alarm · same component · same team"
    ) in body


def action(client: Client, name: str, incident: Incident, data=None, **kwargs):
    return client.post(
        reverse(f"incidents:{name}", args=[incident.pk]), data or {}, headers=HTMX, **kwargs
    )


def test_acknowledge_resolve_reopen_write_state_timeline_and_return_the_fragment(
    logged_in_client,
):
    incident = make_incident()

    for name, status, kind in (
        ("acknowledge", Incident.Status.ACKNOWLEDGED, TimelineEntry.Kind.ACKNOWLEDGED),
        ("resolve", Incident.Status.RESOLVED, TimelineEntry.Kind.RESOLVED),
        ("reopen", Incident.Status.TRIGGERED, TimelineEntry.Kind.REOPENED),
    ):
        response = action(logged_in_client, name, incident)

        assert response.status_code == 200
        incident.refresh_from_db()
        assert incident.status == status
        entry = incident.timeline.latest("id")
        assert (entry.kind, entry.actor) == (kind, "oncall")
        body = response.content.decode()
        assert (
            "<html" not in body and 'id="incident-head" class="incident-head" hx-swap-oob' in body
        )
        assert 'id="timeline"' in body and 'class="message success"' in body
        assert f'badge status-{status}"' in body


def test_notes_are_added_and_the_form_comes_back_empty(logged_in_client):
    incident = make_incident()

    response = action(logged_in_client, "note", incident, {"text": "Rolled back; recovering."})

    entry = incident.timeline.get(kind=TimelineEntry.Kind.NOTE)
    assert entry.data["text"] == "Rolled back; recovering." and entry.actor == "oncall"
    body = response.content.decode()
    assert "Note added." in body and "Rolled back; recovering." in body
    assert 'id="note-form"' in body and "</textarea>" in body


@pytest.mark.parametrize(
    ("name", "status", "data", "message"),
    [
        ("acknowledge", "resolved", {}, "A resolved incident cannot be acknowledged"),
        ("note", "triggered", {"text": "   "}, "A note needs some text."),
        ("verdict", "triggered", {"change": "x", "verdict": "confirmed"}, "Choose a suspect"),
        (
            "verdict",
            "triggered",
            {"change": "999999", "verdict": "confirmed"},
            "no longer a suspect",
        ),
        ("verdict", "triggered", {"change": "1", "verdict": "maybe"}, "Choose a suspect"),
    ],
)
def test_domain_errors_are_a_message_in_the_page_not_a_500(
    logged_in_client, name, status, data, message
):
    incident = make_incident(status=status)
    entries = TimelineEntry.objects.count()

    response = action(logged_in_client, name, incident, data)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="message error"' in body and message in body
    assert TimelineEntry.objects.count() == entries
    assert 'id="note-form"' not in body  # what someone was typing stays


def test_reopening_beside_an_open_twin_says_why(logged_in_client):
    source = AlertSourceFactory()
    old = make_incident(status=Incident.Status.RESOLVED, alert_source=source, alias="cpu")
    make_incident(alert_source=source, alias="cpu")
    body = action(logged_in_client, "reopen", old).content.decode()
    assert "Another incident with this alias is open" in body


def test_without_htmx_an_action_redirects_and_the_message_follows(logged_in_client):
    incident = make_incident(status=Incident.Status.RESOLVED)
    url = reverse("incidents:acknowledge", args=[incident.pk])

    response = logged_in_client.post(url, follow=True)

    assert response.redirect_chain[0][0] == reverse("incidents:detail", args=[incident.pk])
    assert "A resolved incident cannot be acknowledged" in response.content.decode()


@pytest.mark.parametrize("name", ["acknowledge", "resolve", "reopen", "note", "verdict"])
def test_actions_are_post_only_login_required_and_csrf_protected(client, user, name):
    incident = make_incident()
    url = reverse(f"incidents:{name}", args=[incident.pk])
    assert client.post(url)["Location"].startswith(reverse("login"))

    client.force_login(user)
    assert client.get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(url, headers=HTMX).status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.TRIGGERED


def test_verdicts_confirm_reject_and_clear(logged_in_client, user):
    incident = make_incident()
    top = suspect(incident)
    second = suspect(incident, rank=2)
    url_args = {"change": top.change_id}

    response = action(logged_in_client, "verdict", incident, {**url_args, "verdict": "confirmed"})

    top.refresh_from_db()
    assert (top.verdict, top.verdict_by, top.verdict_at is not None) == ("confirmed", user, True)
    body = response.content.decode()
    assert "Marked as confirmed cause." in body and 'aria-pressed="true"' in body
    assert "Confirmed cause by oncall" in body

    action(
        logged_in_client, "verdict", incident, {"change": second.change_id, "verdict": "unrelated"}
    )
    second.refresh_from_db()
    assert second.verdict == "unrelated"

    cleared = action(logged_in_client, "verdict", incident, {**url_args, "verdict": ""})
    top.refresh_from_db()
    assert top.verdict == "" and "Verdict cleared." in cleared.content.decode()


def test_verdicts_are_on_the_timeline_once_each_and_in_the_postmortem(logged_in_client):
    incident = make_incident()
    top = suspect(incident, component="payments-<b>api</b>", version="v4.7.0")
    confirm = {"change": top.change_id, "verdict": "confirmed"}

    first = action(logged_in_client, "verdict", incident, confirm)
    action(logged_in_client, "verdict", incident, confirm)  # a second click changes nothing
    action(logged_in_client, "verdict", incident, {**confirm, "verdict": ""})

    marked = "oncall marked payments-&lt;b&gt;api&lt;/b&gt; v4.7.0 as the confirmed cause"
    assert marked in first.content.decode()  # the answer's timeline already shows it
    entries = TimelineEntry.objects.filter(incident=incident, kind="verdict").order_by("id")
    assert [entry.data["verdict"] for entry in entries] == ["confirmed", ""]
    assert {entry.actor for entry in entries} == {"oncall"}
    detail = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))
    assert "oncall cleared the verdict on payments-&lt;b&gt;api&lt;/b&gt; v4.7.0" in detail
    assert "oncall marked payments-" in detail


def test_verdicts_survive_correlating_again(logged_in_client):
    incident = make_incident()
    change = ChangeEventFactory(occurred_at=incident.started_at - timedelta(minutes=5))
    correlation.correlate_incident(incident_id=incident.pk)
    action(logged_in_client, "verdict", incident, {"change": change.pk, "verdict": "confirmed"})

    correlation.correlate_incident(incident_id=incident.pk)

    assert SuspectChange.objects.get(incident=incident, change=change).verdict == "confirmed"


def test_incident_poll_answers_204_in_one_query_until_something_new(logged_in_client):
    incident = make_incident()
    top = suspect(incident)
    cursor = (
        logged_in_client.get(reverse("incidents:detail", args=[incident.pk])).context["page"].cursor
    )
    live = reverse("incidents:detail-live", args=[incident.pk])

    with CaptureQueriesContext(connection) as captured:
        idle = logged_in_client.get(live, query_params={"after": cursor}, headers=HTMX)
    assert idle.status_code == 204 and len(app_queries(captured)) == 1

    services.add_note(incident=incident, actor=services.Actor(name="dana"), text="Looking at it")
    updated = logged_in_client.get(live, query_params={"after": cursor}, headers=HTMX)
    body = updated.content.decode()
    assert updated.status_code == 200 and "Looking at it" in body and "<html" not in body
    assert 'id="incident-poller"' in body and 'hx-swap-oob="true"' in body
    cursor = updated.context["page"].cursor
    assert logged_in_client.get(live, query_params={"after": cursor}).status_code == 204

    services.set_verdict(
        incident=incident, change_id=top.change_id, verdict="confirmed", actor=services.Actor("x")
    )
    assert logged_in_client.get(live, query_params={"after": cursor}).status_code == 200

    assert logged_in_client.get(reverse("incidents:detail-live", args=[0])).status_code == 404


def test_htmx_gets_the_incident_page_as_its_live_partial(logged_in_client):
    incident = make_incident()
    url = reverse("incidents:detail", args=[incident.pk])
    full = logged_in_client.get(url)
    fragment = logged_in_client.get(url, headers=HTMX)
    assert "HX-Request" in full["Vary"] and "<html" in full.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body and body.count('hx-swap-oob="true"') >= 5


def test_copy_as_markdown_holds_the_postmortem(logged_in_client):
    incident = make_incident("HighErrorRate | checkout", severity="critical")
    TimelineEntryFactory(incident=incident, at=incident.started_at, actor="cloudwatch-prod")
    TimelineEntryFactory(
        incident=incident,
        at=incident.started_at + timedelta(minutes=3),
        kind=TimelineEntry.Kind.NOTE,
        actor="dana",
        data={"text": "Rolled back.\nError rate falling."},
    )
    top = suspect(incident, reasons=["component match", "8 minutes before", "same team"])
    top.verdict = SuspectChange.Verdict.CONFIRMED
    top.save()

    body = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))

    assert 'data-copy-target="#postmortem-markdown"' in body
    textarea = re.search(r'<textarea id="postmortem-markdown"[^>]*>(.*?)</textarea>', body, re.S)
    markdown = html.unescape(textarea.group(1))
    assert markdown.startswith("# HighErrorRate \\| checkout\n")
    assert "- **Status:** Triggered · **Severity:** Critical" in markdown
    assert "- Confirmed: payments-service v1." in markdown
    assert "same component · same team" in markdown
    assert "| Time | Event | Type |" in markdown
    assert "| dana: Rolled back. Error rate falling. | note |" in markdown
    assert "| Alert from cloudwatch-prod: HighErrorRate \\| checkout | alert |" in markdown
    assert "## What Whatchanged could not see" in markdown
    assert f"/incidents/{incident.pk}/" in markdown
    assert "<script" not in body.split("</head>")[1]  # no inline script anywhere
    assert not re.search(r"\son[a-z]+=|hx-on", body)  # nor inline event handlers


def test_what_it_did_not_see(logged_in_client):
    now = timezone.now()
    payments = TeamFactory(name="Payments")
    platform = TeamFactory(name="Platform")
    ComponentFactory(name="payments-service", owner_team=payments)
    ComponentFactory(name="postgres-main", owner_team=platform)  # a team without pipelines
    source = AlertSourceFactory(team=payments)
    reported = DeploymentPipelineFactory(name="payments-github", team=payments, last_event_at=now)
    quiet = DeploymentPipelineFactory(
        name="payments-codepipeline", team=payments, last_event_at=now - timedelta(hours=5)
    )
    DeploymentPipelineFactory(
        name="payments-jenkins", team=payments, last_event_at=now - timedelta(days=5)
    )
    DeploymentPipelineFactory(name="payments-never", team=payments, last_event_at=None)
    DeploymentPipelineFactory(name="someone-elses", last_event_at=None)
    incident = make_incident(
        alert_source=source, components=("payments-service", "postgres-main", "mystery-box")
    )
    ChangeEventFactory(pipeline=reported, occurred_at=incident.started_at - timedelta(minutes=9))
    ChangeEventFactory(pipeline=quiet, occurred_at=incident.started_at - timedelta(hours=3))
    correlation.correlate_incident(incident_id=incident.pk)

    body = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))
    spots = body[body.index('id="blind-spots"') : body.index('id="postmortem"')]

    silent = spots[spots.index("Silent for days") : spots.index("Sent nothing in the window")]
    assert "payments-jenkins" in silent and "last event <time" in silent
    assert ">5\xa0days ago</time>" in silent  # when, with its zone on hover
    assert "payments-never" in silent and "never sent an event" in silent
    quiet_part = spots[spots.index("Sent nothing in the window") : spots.index("No deployment")]
    assert "payments-codepipeline" in quiet_part and "payments-jenkins" not in quiet_part
    assert "Platform: only its manual changes are recorded" in spots
    assert "mystery-box" in spots
    assert "payments-github" in spots[spots.index("Reported in the window") :]
    assert "someone-elses" not in spots
    markdown = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))
    assert "- Silent for days: payments-jenkins" in html.unescape(markdown)


def test_without_any_pipeline_it_says_every_change_was_considered(logged_in_client):
    incident = make_incident(alert_source=AlertSourceFactory(team=None), components=())
    correlation.correlate_incident(incident_id=incident.pk)
    body = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))
    assert "from every team: none of this incident" in body
    assert "No changes in the correlation window." in body


def test_late_suspects_say_how_late_they_arrived(logged_in_client):
    incident = make_incident()
    occurred = incident.started_at - timedelta(minutes=10)
    suspect(incident, occurred_at=occurred, received_at=occurred + timedelta(minutes=14))
    suspect(incident, rank=2, occurred_at=occurred, received_at=occurred + timedelta(seconds=40))

    body = page(logged_in_client, reverse("incidents:detail", args=[incident.pk]))

    assert body.count("arrived 14 min late") == 2  # in the suspects and in the timeline
    assert "arrived under a minute late" not in body and "0 min late" not in body


def test_unknown_incident_is_404(logged_in_client):
    assert logged_in_client.get(reverse("incidents:detail", args=[404])).status_code == 404


# --- Escaping and cost ----------------------------------------------------------------------------


def test_payload_text_is_escaped_on_every_incident_page(logged_in_client):
    ComponentFactory(name=XSS, owner_team=TeamFactory(name=XSS))
    incident = make_incident(XSS, components=(XSS,))
    suspect(incident, component=XSS, summary=XSS, version=XSS)
    TimelineEntryFactory(
        incident=incident, kind=TimelineEntry.Kind.NOTE, actor=XSS, data={"text": XSS}
    )
    ChangeEventFactory(component=XSS, resolved_component=None)
    detail = reverse("incidents:detail", args=[incident.pk])

    bodies = [
        page(logged_in_client, reverse("incidents:list")),
        page(logged_in_client, reverse("incidents:live")),
        page(logged_in_client, detail),
        page(logged_in_client, reverse("incidents:detail-live", args=[incident.pk])),
        action(logged_in_client, "note", incident, {"text": XSS}).content.decode(),
        page(logged_in_client, reverse("incidents:insights")),
    ]

    for body in bodies:
        assert XSS not in body and "<script>alert" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.parametrize("count", [10, 1000])
def test_list_cost_does_not_grow(logged_in_client, django_assert_max_num_queries, count):
    source = AlertSourceFactory(team=TeamFactory())
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Alarm {n}",
            alias=f"alias-{n}",
            alert_source=source,
            status="resolved" if n % 2 else "triggered",
            started_at=now - timedelta(minutes=n),
            last_alert_at=now,
        )
        for n in range(count)
    )
    IncidentComponent.objects.bulk_create(
        IncidentComponent(incident=incident, name="payments-service") for incident in incidents
    )
    change = ChangeEventFactory()
    SuspectChange.objects.bulk_create(
        SuspectChange(incident=incident, change=change, score=1, rank=1) for incident in incidents
    )
    cursor = selectors.list_cursor()

    with django_assert_max_num_queries(6):
        page(logged_in_client, reverse("incidents:list"), query_params={"severity": "high"})
    with django_assert_max_num_queries(6):
        page(logged_in_client, reverse("incidents:live"))
    with django_assert_max_num_queries(3):
        logged_in_client.get(reverse("incidents:live"), query_params={"after": cursor})


@pytest.mark.parametrize("count", [10, 1000])
def test_each_list_filter_and_load_older_cost_a_fixed_number_of_queries(
    logged_in_client, django_assert_num_queries, count
):
    """Beside the session and the user: the filters' options, the open rows (the live cursor
    riding along), the resolved rows, and the components of all shown. A filter leaving out a
    section saves its query; a row adds none, whatever it shows."""
    team = TeamFactory(slug="payments")
    source = AlertSourceFactory(name="cloudwatch-prod", team=team)
    payments = ComponentFactory(name="payments-service")
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(
            title=f"Alarm {n}",
            alias=f"alias-{n}",
            alert_source=source,
            team=team,
            severity="critical",
            status="resolved" if n % 2 else "triggered",
            started_at=now - timedelta(minutes=n),
            resolved_at=now if n % 2 else None,
            last_alert_at=now,
            repeat_count=n % 3,
        )
        for n in range(count)
    )
    IncidentComponent.objects.bulk_create(
        IncidentComponent(incident=incident, name=name, component=payments)
        for incident in incidents
        for name in ("payments-service", "payments-prod")
    )
    change = ChangeEventFactory()
    SuspectChange.objects.bulk_create(
        SuspectChange(incident=incident, change=change, score=1, rank=1) for incident in incidents
    )
    url = reverse("incidents:list")
    newest_resolved = next(incident for incident in incidents if incident.status == "resolved")
    older = encode_cursor(newest_resolved.started_at, newest_resolved.pk)

    for query, queries in [
        ({}, 6),
        ({"severity": "critical"}, 6),
        ({"team": "payments"}, 6),
        ({"source": "cloudwatch-prod"}, 6),
        ({"component": "payments-service"}, 6),
        ({"status": "triggered"}, 5),
        ({"status": "resolved"}, 5),
    ]:
        with django_assert_num_queries(queries):
            body = page(logged_in_client, url, query_params=query)
        assert "Alarm 1<" in body or "Alarm 0<" in body, query
    with django_assert_num_queries(5):  # "Load older": resolved rows only
        rows = page(logged_in_client, url, query_params={"before": older}, headers=HTMX)
    assert "Alarm 3<" in rows and "Alarm 1<" not in rows


@pytest.mark.parametrize("count", [10, 1000])
def test_incident_page_cost_does_not_grow(logged_in_client, django_assert_max_num_queries, count):
    team = TeamFactory()
    incident = make_incident(alert_source=AlertSourceFactory(team=team))
    DeploymentPipelineFactory.create_batch(3, team=team)
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            incident=incident,
            at=incident.started_at + timedelta(seconds=n),
            kind=TimelineEntry.Kind.NOTE,
            actor="dana",
            data={"text": f"note {n}"},
        )
        for n in range(count)
    )
    pipeline = DeploymentPipelineFactory(team=team)
    changes = ChangeEvent.objects.bulk_create(
        ChangeEvent(
            pipeline=pipeline,
            component="payments-service",
            occurred_at=incident.started_at - timedelta(seconds=n),
            received_at=incident.started_at,
            idempotency_key=f"bulk-{n}",
        )
        for n in range(count)
    )
    SuspectChange.objects.bulk_create(
        SuspectChange(incident=incident, change=change, score=1, rank=n, reasons=["same team"])
        for n, change in enumerate(changes, start=1)
    )
    detail = reverse("incidents:detail", args=[incident.pk])

    with django_assert_max_num_queries(8):  # its alerts included (grouping)
        body = page(logged_in_client, detail)
    assert f"note {count - 1}" in body
    with django_assert_max_num_queries(9):  # the cursor, then the page
        page(logged_in_client, reverse("incidents:detail-live", args=[incident.pk]))
    with django_assert_max_num_queries(14):  # the page's, plus the service's own few
        action(logged_in_client, "note", incident, {"text": "one more"})
    with django_assert_max_num_queries(14):
        action(
            logged_in_client, "verdict", incident, {"change": changes[0].pk, "verdict": "confirmed"}
        )


def test_pages_need_a_login(client):
    incident = make_incident()
    for url in (
        reverse("incidents:list"),
        reverse("incidents:live"),
        reverse("incidents:insights"),
        reverse("incidents:detail", args=[incident.pk]),
        reverse("incidents:detail-live", args=[incident.pk]),
    ):
        assert client.get(url)["Location"].startswith(reverse("login"))


def test_navigation_marks_insights_apart_from_incidents(logged_in_client):
    body = page(logged_in_client, reverse("incidents:insights"))
    assert re.search(r'href="/incidents/insights/"\s+aria-current="page">Insights', body)
    assert not re.search(r'href="/incidents/"\s+aria-current="page"', body)
    listing = page(logged_in_client, reverse("incidents:list"))
    assert re.search(r'href="/incidents/"\s+aria-current="page">Incidents', listing)


def test_a_user_who_is_in_no_team_may_still_act(client):
    """On-call practice: any logged-in person may acknowledge, resolve and add notes."""
    client.force_login(UserFactory(username="stranger"))
    incident = make_incident()
    assert action(client, "acknowledge", incident).status_code == 200
    assert Incident.objects.get(pk=incident.pk).acknowledged_by.username == "stranger"
