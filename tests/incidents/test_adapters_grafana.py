"""The Grafana adapter: every fixture, Grafana's extras, and the bodies it must refuse."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils.datastructures import CaseInsensitiveMapping

from common.payloads import Ignored, PayloadInvalid
from incidents.adapters import alertmanager, grafana
from incidents.adapters.base import AlertAction, CanonicalAlert
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "grafana"
FIRING = "01_firing"
RESOLVED = "02_resolved"
# What the fixtures' `expect.action` means for the adapter (the lifecycle service does the rest).
ACTIONS = {
    "raise": AlertAction.TRIGGER,
    "repeat": AlertAction.TRIGGER,
    "reopen": AlertAction.TRIGGER,
    "resolve": AlertAction.RESOLVE,
    "acknowledge": AlertAction.ACKNOWLEDGE,
}
REMOVED = object()


def delivery(
    name: str, changes: dict[str, Any] | None = None
) -> tuple[Any, CaseInsensitiveMapping]:
    """A fixture's parsed body and headers, each dotted path in `changes` set anew (or removed)."""
    fixture = load_fixture(PRODUCER, name)
    body = json.loads(fixture["body"])
    for path, value in (changes or {}).items():
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key = int(last) if isinstance(target, list) else last
        if value is REMOVED:
            del target[key]
        else:
            target[key] = value
    return body, CaseInsensitiveMapping(fixture["headers"])


def only(name: str = FIRING, changes: dict[str, Any] | None = None) -> CanonicalAlert:
    (alert,) = grafana.to_alerts(*delivery(name, changes))
    return alert


def refusal(changes: dict[str, Any]) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as invalid:
        grafana.to_alerts(*delivery(FIRING, changes))
    return invalid.value


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    defaults = fixture["source_settings"]
    expected = fixture["expect"]["incidents"]
    alerts = grafana.to_alerts(*delivery(name))
    assert len(alerts) == len(expected)
    for alert, expect in zip(alerts, expected, strict=True):
        assert alert.action == ACTIONS[expect["action"]]
        assert alert.alias == expect["alias"]
        assert alert.title == expect["title"]
        # Where the fixture shows the source's default, the adapter must leave it to the source.
        default_severity = expect["severity"] == defaults["default_severity"]
        assert alert.severity == ("" if default_severity else expect["severity"])
        default_components = expect["components"] == defaults["default_components"]
        assert alert.components == (() if default_components else tuple(expect["components"]))


@pytest.mark.parametrize("body", [[], "firing", 1, None])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = delivery(FIRING)
    with pytest.raises(PayloadInvalid) as invalid:
        grafana.to_alerts(body, headers)
    assert invalid.value.field_name == "body"


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
            "alerts.0.panelURL": 42.5,
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
    with pytest.raises(Ignored) as ignored:
        grafana.to_alerts(*delivery(RESOLVED, {"alerts": []}))
    assert ignored.value.event_type == "resolved"


def test_a_legacy_alerting_body_is_invalid():
    body = {
        "title": "[Alerting] Payments 5xx",
        "ruleId": 4,
        "ruleName": "Payments 5xx",
        "state": "alerting",
        "evalMatches": [{"value": 7.31, "metric": "5xx", "tags": {}}],
    }
    with pytest.raises(PayloadInvalid) as invalid:
        grafana.to_alerts(body, CaseInsensitiveMapping({}))
    assert invalid.value.field_name == "alerts"


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"alerts": {"status": "firing"}}, "alerts"),
        ({"alerts.0": None}, "alerts.0"),
        ({"alerts.0.labels": "severity=critical"}, "alerts.0.labels"),
        ({"alerts.0.labels.team": ["payments"]}, "alerts.0.labels.team"),
        ({"alerts.0.dashboardURL": {"uid": "payments-overview"}}, "alerts.0.dashboardURL"),
        ({"alerts.0.endsAt": "soon", "alerts.0.status": "resolved"}, "alerts.0.endsAt"),
    ],
)
def test_a_bad_field_is_named_with_its_alert(changes, field_name):
    assert refusal(changes).field_name == field_name
