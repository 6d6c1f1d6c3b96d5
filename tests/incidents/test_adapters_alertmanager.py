"""The Alertmanager adapter: every fixture, the webhook's quirks, and the bodies it must refuse."""

from datetime import UTC, datetime
from typing import Any

import pytest

from incidents.adapters import alertmanager
from incidents.adapters.base import TITLE_LENGTH, AlertAction, CanonicalAlert
from tests.adapters import REMOVED, assert_alert_matches, fixture_request, refused, skipped
from tests.fixtures import fixture_names, load_fixture

PRODUCER = "alertmanager"
FIRING = "01_firing_two_alerts"
RESOLVED_ONE = "02_resolved_one"


def convert(name: str, changes: dict[str, Any] | None = None) -> list[CanonicalAlert]:
    return alertmanager.to_alerts(*fixture_request(PRODUCER, name, changes))


def first(changes: dict[str, Any]) -> CanonicalAlert:
    return convert(FIRING, changes)[0]


@pytest.mark.parametrize("name", fixture_names(PRODUCER))
def test_fixture_converts_as_expected(name):
    fixture = load_fixture(PRODUCER, name)
    expected = fixture["expect"]["incidents"]
    alerts = convert(name)
    assert len(alerts) == len(expected)
    for alert, expect in zip(alerts, expected, strict=True):
        assert_alert_matches(alert, expect, fixture["source_settings"])


@pytest.mark.parametrize("body", [[], "firing", 4, None, True])
def test_a_body_that_is_not_an_object_is_invalid(body):
    _, headers = fixture_request(PRODUCER, FIRING)
    assert refused(alertmanager.to_alerts, body, headers).field_name == "body"


def test_a_notification_without_alerts_is_ignored():
    ignored = skipped(convert, FIRING, {"alerts": []})
    assert ignored.event_type == "firing"
    assert "no alerts" in ignored.reason


@pytest.mark.parametrize(
    ("changes", "field_name", "problem"),
    [
        ({"alerts": REMOVED}, "alerts", "This field is required."),
        ({"alerts": {"0": {}}}, "alerts", "Expected a list, got an object."),
        ({"alerts.1": "HighRequestLatency"}, "alerts.1", "Expected an object."),
        ({"alerts.0.labels": REMOVED}, "alerts.0.labels", "This field is required."),
        ({"alerts.1.labels": ["severity=critical"]}, "alerts.1.labels", None),
        ({"alerts.0.labels.service": {"name": "payments"}}, "alerts.0.labels.service", None),
        # Prometheus labels are strings: a number is a sender's bug, not the label "3".
        (
            {"alerts.0.labels.replicas": 3},
            "alerts.0.labels.replicas",
            "Expected a string, got a number.",
        ),
        ({"alerts.1.status": REMOVED}, "alerts.1.status", "This field is required."),
        ({"alerts.0.status": "pending"}, "alerts.0.status", "Expected firing or resolved."),
        ({"alerts.0.annotations": "summary"}, "alerts.0.annotations", None),
        ({"alerts.0.annotations.summary": ["p99"]}, "alerts.0.annotations.summary", None),
        ({"alerts.0.startsAt": "yesterday"}, "alerts.0.startsAt", None),
        ({"alerts.0.fingerprint": ["bdddc8bbdebec6a0"]}, "alerts.0.fingerprint", None),
        ({"alerts.0.fingerprint": "f" * 256}, "alerts.0.fingerprint", None),
        ({"alerts.1.generatorURL": {"href": "http://x"}}, "alerts.1.generatorURL", None),
    ],
)
def test_a_bad_field_is_named_with_its_alert(changes, field_name, problem):
    invalid = refused(convert, FIRING, changes)
    assert invalid.field_name == field_name
    if problem:
        assert invalid.fields == {field_name: [problem]}


def test_one_alert_per_entry_in_body_order():
    body, headers = fixture_request(PRODUCER, FIRING)
    body["alerts"].reverse()
    aliases = [alert.alias for alert in alertmanager.to_alerts(body, headers)]
    assert aliases == ["48845b835f3068ef", "bdddc8bbdebec6a0"]


def test_a_still_firing_alert_sent_again_is_a_trigger_without_idempotency_key():
    again, resolved = convert(RESOLVED_ONE)
    assert (again.action, again.idempotency_key) == (AlertAction.TRIGGER, "")
    assert (resolved.action, resolved.event_type) == (AlertAction.RESOLVE, "firing")


def test_the_event_type_is_the_group_status():
    alerts = convert(FIRING, {"status": "resolved", "alerts.0.status": "resolved"})
    assert [alert.event_type for alert in alerts] == ["resolved", "resolved"]
    assert [alert.action for alert in alerts] == [AlertAction.RESOLVE, AlertAction.TRIGGER]


def test_a_firing_alert_happened_at_its_nanosecond_start():
    assert first({}).occurred_at == datetime(2026, 11, 20, 13, 57, 45, 120394, tzinfo=UTC)


def test_a_resolved_alert_happened_at_its_end():
    resolved = convert(RESOLVED_ONE)[1]
    assert resolved.occurred_at == datetime(2026, 11, 20, 14, 9, 45, 120394, tzinfo=UTC)


def test_the_zero_end_time_means_unset():
    # Go's zero time.Time, sent as endsAt while firing; a resolved alert carrying it has no time.
    alert = first({"alerts.0.status": "resolved", "alerts.0.endsAt": "0001-01-01T00:00:00Z"})
    assert (alert.action, alert.occurred_at) == (AlertAction.RESOLVE, None)


def test_without_a_start_the_receive_time_is_used():
    assert first({"alerts.0.startsAt": REMOVED}).occurred_at is None


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("critical", "critical"),
        ("CRITICAL", "critical"),
        ("error", "high"),
        ("high", "high"),
        ("warning", "medium"),
        ("low", "low"),
        ("info", "info"),
        ("page", ""),
        ("disaster", ""),
        (REMOVED, ""),
    ],
)
def test_the_severity_label_is_mapped_and_anything_else_is_the_default(label, severity):
    assert first({"alerts.0.labels.severity": label}).severity == severity


@pytest.mark.parametrize(
    ("changes", "components"),
    [
        ({}, ("payments-service",)),
        ({"alerts.0.labels.service": REMOVED}, ("payments-api",)),
        (
            {"alerts.0.labels.service": REMOVED, "alerts.0.labels.job": REMOVED},
            (),
        ),
        (
            {
                "alerts.0.labels.service": "",
                "alerts.0.labels.job": REMOVED,
                "alerts.0.labels.component": "ledger",
            },
            ("ledger",),
        ),
    ],
)
def test_the_component_is_service_else_job_else_component(changes, components):
    assert first(changes).components == components


def test_a_huge_component_label_is_cut_to_its_column():
    (component,) = first({"alerts.0.labels.service": "s" * 300}).components
    assert (len(component), component[-1]) == (200, "…")


def test_the_title_is_the_summary_else_the_alert_name():
    assert first({}).title == "p99 latency above 1.5s on payments-service"
    assert first({"alerts.0.annotations.summary": REMOVED}).title == "HighRequestLatency"
    assert first({"alerts.0.annotations": {}}).title == "HighRequestLatency"


def test_a_huge_summary_is_cut_to_the_title_column():
    title = first({"alerts.0.annotations.summary": "Latenz " + "ü" * 2000}).title
    assert (len(title), title[-1]) == (TITLE_LENGTH, "…")
    assert title.startswith("Latenz üü")


def test_a_multi_line_summary_shows_its_first_line():
    alert = first({"alerts.0.annotations.summary": "p99 above 1.5s\n\nsee the runbook"})
    assert alert.title == "p99 above 1.5s"


def test_unicode_titles_are_kept():
    title = "Zahlungen: p99 > 1,5 s ⚠️ 支付服务"
    assert first({"alerts.0.annotations.summary": title}).title == title


def test_the_description_is_the_description_annotation():
    assert first({}).description.startswith("payments-service p99 request latency")
    assert first({"alerts.0.annotations.description": REMOVED}).description == ""


def test_the_links_are_the_generator_url_and_the_runbook_with_go_escapes_undone():
    generator, runbook = first({}).links
    assert generator["text"] == "Source"
    assert generator["href"].endswith("+%3E+1.5&g0.tab=1")  # Go wrote the & as \u0026
    assert runbook == {
        "href": "https://runbooks.example.internal/payments/latency",
        "text": "Runbook",
    }


def test_only_http_links_are_kept():
    alert = first(
        {
            "alerts.0.generatorURL": "javascript:alert(document.cookie)",
            "alerts.0.annotations.runbook_url": "file:///etc/passwd",
        }
    )
    assert alert.links == ()


@pytest.mark.parametrize(
    ("labels", "environment"),
    [
        ({"env": "production"}, "production"),
        ({"environment": "staging"}, "staging"),
        ({"env": "", "environment": "staging"}, "staging"),
        ({}, ""),
    ],
)
def test_the_environment_is_the_env_or_environment_label(labels, environment):
    changes = {f"alerts.0.labels.{name}": value for name, value in labels.items()}
    assert first(changes).environment == environment


def test_the_team_is_the_team_label():
    assert first({"alerts.0.labels.team": "payments"}).team == "payments"
    assert first({}).team == ""


def test_the_details_are_the_labels():
    assert first({"alerts.0.labels.replicas": "3"}).details == {
        "alertname": "HighRequestLatency",
        "job": "payments-api",
        "namespace": "prod",
        "service": "payments-service",
        "severity": "critical",
        "replicas": "3",
    }


def test_without_a_fingerprint_the_alias_is_the_one_alertmanager_computes():
    # The fixtures' fingerprints were computed like prometheus/common's LabelSet.Fingerprint.
    payments, checkout = convert(
        FIRING, {"alerts.0.fingerprint": REMOVED, "alerts.1.fingerprint": ""}
    )
    assert (payments.alias, checkout.alias) == ("bdddc8bbdebec6a0", "48845b835f3068ef")


def test_the_computed_fingerprint_depends_on_the_label_set_only():
    labels = {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "warning"}
    fingerprint = alertmanager.label_fingerprint(labels)
    assert len(fingerprint) == 16
    assert set(fingerprint) <= set("0123456789abcdef")
    assert alertmanager.label_fingerprint(dict(reversed(labels.items()))) == fingerprint
    assert alertmanager.label_fingerprint({**labels, "instance": "db-2:9100"}) != fingerprint
    # The 0xff separator keeps a name's end from sliding into its value.
    assert alertmanager.label_fingerprint({"ab": "c"}) != alertmanager.label_fingerprint(
        {"a": "bc"}
    )
    # prometheus/common's emptyLabelSignature: the FNV-1a offset basis.
    assert alertmanager.label_fingerprint({}) == "cbf29ce484222325"
