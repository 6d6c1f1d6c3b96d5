"""The postmortem Markdown (the incident page's "Copy as Markdown") copies producer text inert:
image links, `javascript:` links, raw HTML, headings and emphasis come out escaped, as written;
links are Markdown links only when they are http(s)."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, SuspectChange
from tests.changes.factories import ChangeEventFactory
from tests.changes.ingest import pipeline_for, post_json
from tests.incidents.factories import IncidentFactory, SuspectChangeFactory
from tests.pipelines.factories import AlertSourceFactory
from tests.teams.factories import ComponentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

IMAGE = "![x](https://evil.example/p.png)"
SCRIPT_LINK = "[click](javascript:alert(1))"
RAW_HTML = "<img src=x onerror=alert(1)>"
ALERT_KEY = "alert-key-0123456789"


@pytest.fixture
def oncall_client(client: Client) -> Client:
    client.force_login(UserFactory(username="oncall"))
    return client


def postmortem(client: Client, incident_id: int) -> str:
    """The Markdown as the page holds it for the copy button."""
    response = client.get(reverse("incidents:detail", args=[incident_id]))
    assert response.status_code == 200
    body = response.content.decode()
    textarea = re.search(r'<textarea id="postmortem-markdown"[^>]*>(.*?)</textarea>', body, re.S)
    return html.unescape(textarea.group(1))


def test_producer_text_comes_out_inert_and_http_links_stay_links(
    oncall_client, django_capture_on_commit_callbacks
):
    payments = TeamFactory(slug="payments", name="Payments")
    ComponentFactory(name="payments-service", owner_team=payments)
    pipeline_for("alert24", team=payments)
    AlertSourceFactory(kind="generic", key=ALERT_KEY, team=payments)
    now = timezone.now()
    change = {
        "component": "payments-service",
        "summary": "# heading",
        "version": "*bold*",
        "triggered_by": RAW_HTML,
        "occurred_at": (now - timedelta(minutes=8)).isoformat(),
        "links": [
            {"href": "https://ci.example/builds/7?a=1&b=(2)", "text": f"Build {SCRIPT_LINK}"},
            {"href": "javascript:alert(1)", "text": "run"},
        ],
    }
    alert = {
        "title": f"Checkout down {IMAGE} {SCRIPT_LINK}",
        "components": ["payments-service", "*bold*-box"],
        "started_at": now.isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):  # correlation runs eagerly
        recorded = post_json(oncall_client, change)
        raised = oncall_client.post(
            "/api/v1/incidents",
            json.dumps(alert),
            content_type="application/json",
            headers={"Authorization": f"Bearer {ALERT_KEY}"},
        )
    assert (recorded.status_code, raised.status_code) == (202, 202), raised.content
    incident = Incident.objects.get()
    assert SuspectChange.objects.get(incident=incident).change_id == recorded.json()["id"]

    markdown = postmortem(oncall_client, incident.pk)

    assert markdown.startswith(
        "# Checkout down \\!\\[x\\]\\(https://evil.example/p.png\\) "
        "\\[click\\]\\(javascript:alert\\(1\\)\\)\n"
    )
    assert "- **Components:** payments-service, \\*bold\\*-box\n" in markdown
    [suspect] = [line for line in markdown.splitlines() if line.startswith("1. ")]
    assert suspect.startswith("1. payments-service \\*bold\\* deployed 8 min before the alarm")
    # The http(s) link stays a link, its text escaped and its destination percent-encoded.
    assert suspect.endswith(
        " — [Build \\[click\\]\\(javascript:alert\\(1\\)\\)]"
        "(https://ci.example/builds/7?a=1&b=%282%29)"
    )
    assert (
        "| payments-service \\*bold\\* deployed by &lt;img src=x onerror=alert\\(1\\)&gt; "
        "(suspect #1): \\# heading | change |"
    ) in markdown
    assert "- Not in the catalog: \\*bold\\*-box\n" in markdown
    for live in ("![", "](javascript", "<img", "\n# heading", " *bold*", "[run]"):
        assert live not in markdown, live


def test_a_stored_link_that_is_not_http_is_only_its_text():
    """Older rows, or a producer whose adapter kept it: the Markdown links http(s) alone."""
    client = Client()
    client.force_login(UserFactory(username="oncall"))
    incident = IncidentFactory(
        title="Checkout down",
        started_at=timezone.now() - timedelta(minutes=20),
        links=[
            {"href": "https://grafana.example/d/1", "text": "Dashboard"},
            {"href": "javascript:alert(1)", "text": "Runbook"},
            {"href": "data:text/html,<b>x</b>", "text": ""},
        ],
    )
    change = ChangeEventFactory(
        occurred_at=incident.started_at - timedelta(minutes=5),
        links=[
            {"href": "https://ci.example/7", "text": "*CI*"},
            {"href": "vbscript:x", "text": "Run"},
        ],
    )
    SuspectChangeFactory(incident=incident, change=change, rank=1, reasons=["5 minutes before"])

    markdown = postmortem(client, incident.pk)

    assert (
        "- **Links:** [Dashboard](https://grafana.example/d/1) · Runbook · "
        "data:text/html,&lt;b&gt;x&lt;/b&gt;\n"
    ) in markdown
    [suspect] = [line for line in markdown.splitlines() if line.startswith("1. ")]
    assert suspect.endswith(" — [\\*CI\\*](https://ci.example/7)")
    assert "javascript:" not in markdown and "vbscript" not in markdown
