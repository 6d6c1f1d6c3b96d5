"""The Grafana adapter: every fixture, Grafana's extras, and the bodies it must refuse."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from incidents.adapters import alertmanager, grafana
from incidents.adapters.base import AlertAction, CanonicalAlert
from tests.adapters import REMOVED, assert_alert_matches, fixture_request, refused, skipped
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "grafana"
FIRING = "01_firing"
RESOLVED = "02_resolved"


def only(name: str = FIRING, changes: dict[str, Any] | None = None) -> CanonicalAlert:
    (alert,) = grafana.to_alerts(*fixture_request(PRODUCER, name, changes))
    return alert


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    expected = fixture["expect"]["incidents"]
    alerts = grafana.to_alerts(*fixture_request(PRODUCER, name))
    assert len(alerts) == len(expected)
    for alert, expect in zip(alerts, expected, strict=True):
        assert_alert_matches(alert, expect, fixture["source_settings"])


@pytest.mark.parametrize("body", [[], "firing", 1, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, FIRING)
    assert refused(grafana.to_alerts, body, headers).field_name == "body"


def test_grafanas_links_come_after_the_source_and_runbook():
    assert [link["text"] for link in only().links] == [
        "Source",
        "Runbook",
        "Dashboard",
        "Panel",
        "Silence",
    ]
    silence = only().links[-1]["href"]
    assert "alertmanager=grafana&matcher=" in silence  # Go wrote each & as \u0026


def test_an_image_url_is_kept_as_a_link():
    image = "https://grafana.example.com/public/img/attachments/abc.png"
    assert only(changes={"alerts.0.imageURL": image}).links[-1] == {
        "href": image,
        "text": "Image",
    }


def test_grafana_urls_other_than_http_are_dropped():
    alert = only(
        changes={
            "alerts.0.silenceURL": "javascript:alert(1)",
            "alerts.0.dashboardURL": "",
            "alerts.0.panelURL": "ftp://grafana.example.com/panel",
        }
    )
    assert [link["text"] for link in alert.links] == ["Source", "Runbook"]


@pytest.mark.parametrize(
    "changes",
    [
        {"alerts.0.values": None},
        {"alerts.0.values": {"A": 7.31, "B": None}},
        {"alerts.0.valueString": ""},
        {"alerts.0.ruleUID": REMOVED, "alerts.0.orgId": REMOVED},
        {"alerts.0.embeddedImage": "data:image/png;base64,iVBORw0KGgo="},
        {"title": None, "state": "alerting", "message": {"unexpected": "shape"}},
        {"orgId": "1", "version": "1", "truncatedAlerts": 3},
    ],
)
def test_grafana_extras_change_nothing(changes):
    assert only(changes=changes) == only()


def test_the_team_label_names_the_team():
    assert only().team == "payments"


def test_a_resolved_alert_ends_when_grafana_says():
    alert = only(RESOLVED)
    assert alert.action == AlertAction.RESOLVE
    assert alert.occurred_at == datetime(2026, 11, 20, 14, 11, 10, tzinfo=UTC)
    assert alert.event_type == "resolved"


def test_a_firing_alert_starts_when_grafana_says_and_its_zero_end_is_ignored():
    alert = only()
    assert alert.occurred_at == datetime(2026, 11, 20, 13, 59, 10, tzinfo=UTC)
    assert (alert.event_type, alert.idempotency_key) == ("firing", "")


def test_without_a_fingerprint_the_alias_is_computed_from_the_labels():
    assert only(changes={"alerts.0.fingerprint": REMOVED}).alias == "00877cff2d3caa9b"
    labels = json.loads(load_fixture(PRODUCER, FIRING)["body"])["alerts"][0]["labels"]
    assert alertmanager.label_fingerprint(labels) == "00877cff2d3caa9b"


def test_a_notification_without_alerts_is_ignored():
    ignored = skipped(grafana.to_alerts, *fixture_request(PRODUCER, RESOLVED, {"alerts": []}))
    assert ignored.event_type == "resolved"


def test_a_legacy_alerting_body_is_invalid():
    body = {
        "title": "[Alerting] Payments 5xx",
        "ruleId": 4,
        "ruleName": "Payments 5xx",
        "state": "alerting",
        "evalMatches": [{"value": 7.31, "metric": "5xx", "tags": {}}],
    }
    assert refused(grafana.to_alerts, body, CaseInsensitiveMapping({})).field_name == "alerts"


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"alerts": {"status": "firing"}}, "alerts"),
        ({"alerts.0": None}, "alerts.0"),
        ({"alerts.0.labels": "severity=critical"}, "alerts.0.labels"),
        ({"alerts.0.labels.team": ["payments"]}, "alerts.0.labels.team"),
        ({"alerts.0.dashboardURL": {"uid": "payments-overview"}}, "alerts.0.dashboardURL"),
        # A URL is a string: a number is a sender's bug, not a link to drop quietly.
        ({"alerts.0.panelURL": 42.5}, "alerts.0.panelURL"),
        ({"alerts.0.endsAt": "soon", "alerts.0.status": "resolved"}, "alerts.0.endsAt"),
    ],
)
def test_a_bad_field_is_named_with_its_alert(changes, field_name):
    assert refused(only, FIRING, changes).field_name == field_name
