"""Every page that shows producer data escapes it: a change and an alert whose every text
field carries markup go in through the real ingest endpoints, and then every page and
fragment that renders them is read back."""

import json
import re

import pytest
from django.urls import reverse

from changes.models import ChangeEvent
from incidents import correlation
from incidents.models import Incident
from tests.changes.ingest import pipeline_for, post_json
from tests.incidents.ingest import KEY as ALERT_KEY
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import ComponentFactory

pytestmark = pytest.mark.django_db

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
OTHER_KEY = "other-pipeline-key"


@pytest.fixture
def hostile_data(client, django_capture_on_commit_callbacks):
    """A change and an incident on the same component, markup in every field they show; the
    change reported by a second pipeline too (grouped under it by the worker)."""
    pipeline = pipeline_for("alert24", name=f"pipe {MARKUP}"[:100])
    DeploymentPipelineFactory(kind="generic", key=OTHER_KEY, name=f"other {MARKUP}"[:100])
    source = AlertSourceFactory(kind="generic", key=ALERT_KEY, name=f"source {MARKUP}"[:100])
    ComponentFactory(name="payments-service")
    body = {
        "component": "payments-service",
        "description": MARKUP,
        "summary": MARKUP,
        "version": MARKUP,
        "environment": MARKUP[:50],
        "triggered_by": MARKUP,
        "commit": MARKUP[:40],
        "deployment_id": MARKUP,
        "links": [
            {"href": "javascript:alert(1)", "text": MARKUP},
            # A web link is shown (suspect cards carry it), its markup escaped in and out.
            {"href": f"https://ci.example.com/{MARKUP}", "text": MARKUP},
            {"href": f"https://gitlab.example.com/{MARKUP}", "text": "Commit"},
        ],
        "metadata": {"note": MARKUP, "repository": f"https://github.com/{MARKUP}"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        change = post_json(client, body)
        assert change.status_code == 202, change.content
        also = post_json(client, {**body, "deployment_id": ""}, key=OTHER_KEY)
        assert also.status_code == 202, also.content
    with django_capture_on_commit_callbacks(execute=True):  # it undoes the change
        rollback = post_json(client, {**body, "kind": "rollback", "deployment_id": "rollback"})
        assert rollback.status_code == 202, rollback.content
    alert = client.post(
        "/api/v1/incidents",
        json.dumps(
            {
                "title": MARKUP,
                "description": MARKUP,
                "alias": MARKUP,
                "components": ["payments-service", MARKUP[:100]],
                "severity": "high",
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {ALERT_KEY}"},
    )
    assert alert.status_code in (200, 201, 202), alert.content
    incident = Incident.objects.get()
    correlation.correlate_incident(incident_id=incident.pk)
    assert incident.suspects.exists()
    change = ChangeEvent.objects.logical().get(kind="deployment")
    assert change.rolled_back_by_id == rollback.json()["id"]
    return {
        "change": change,
        "grouped": ChangeEvent.objects.get(same_as=change),
        "rollback": change.rolled_back_by,
        "incident": incident,
        "pipeline": pipeline,
        "source": source,
    }


def pages(data) -> list[str]:
    change, incident = data["change"], data["incident"]
    return [
        reverse("changes:list"),
        reverse("changes:list") + "?q=script",
        reverse("changes:poll") + "?after=0",
        reverse("changes:detail", args=[change.pk]),
        reverse("changes:detail", args=[data["grouped"].pk]),
        reverse("changes:detail", args=[data["rollback"].pk]),
        reverse("incidents:list"),
        reverse("incidents:live") + "?after=0",
        reverse("incidents:detail", args=[incident.pk]),
        reverse("incidents:detail-live", args=[incident.pk]),
        reverse("incidents:component", args=["payments-service"]),
        reverse("settings:overview"),
        reverse("settings:integration", args=["pipelines", data["pipeline"].pk]),
        reverse("settings:integration", args=["alert-sources", data["source"].pk]),
    ]


def test_no_page_renders_payload_markup(client, hostile_data, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer", is_staff=True))
    shown = []
    for url in pages(hostile_data):
        for headers in ({}, {"HX-Request": "true"}):  # the page, and its htmx fragment
            response = client.get(url, headers=headers)
            assert response.status_code in (200, 204), (url, response.status_code)
            html = response.content.decode()
            assert "<script>alert" not in html, url
            # Escaped as text; in the postmortem's Markdown also its `(` and `>`, and
            # percent-encoded in a link's destination.
            inert = ("alert(1)&gt;", "alert\\(1\\)&amp;gt;", "alert%281%29%3E")
            inert = tuple(f"onerror={form}" for form in inert)
            assert "onerror=alert" not in re.sub("|".join(map(re.escape, inert)), "", html), url
            assert 'href="javascript:' not in html, url
            shown.append((url, bool(headers), "&lt;script&gt;" in html))
    assert [page for page in shown if not page[2]] == []  # the data was there, escaped
    detail = client.get(reverse("changes:detail", args=[hostile_data["change"].pk]))
    assert ESCAPED in detail.content.decode()
