"""A number, boolean, list or object where an alert producer's format has a string (a title, an
alias, a component, a severity, a label) is refused with a 400 naming the field, never stored
as its text. Every case goes through the real endpoint, signed where the producer signs."""

import base64
import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from common.times import parse_timestamp
from incidents.models import Incident, TimelineEntry
from pipelines.models import Delivery
from pipelines.sns import string_to_sign
from tests.adapters import set_path
from tests.fixtures import load_fixture
from tests.incidents.factories import IncidentFactory
from tests.incidents.ingest import SNS_KEY, install_sns_certificate, send, source_for, url_for

pytestmark = pytest.mark.django_db

# One value of each JSON type that is not a string, and how the error names that type.
WRONG_VALUES = {
    "number": (4711, "a number"),
    "boolean": (False, "a boolean"),
    "list": (["checkout-service"], "a list"),
    "object": ({"name": "checkout-service"}, "an object"),
}
WRONG = pytest.mark.parametrize("wrong", WRONG_VALUES)
# The string fields of the Alert24-compatible body; `components` and `tags` are lists of them.
ALERT24_FIELDS = (
    "title",
    "description",
    "alias",
    "severity",
    "source",
    "status",
    "components.0",
    "tags.0",
)
# (producer, fixture, a field its format documents as a string): the fixture raises, resolves
# or repeats an incident as sent. The error names the field by its path in the body
# (`Message.` inside an SNS notification's alarm).
PRODUCER_FIELDS = [
    ("pagerduty_events", "01_trigger", "dedup_key"),
    ("pagerduty_events", "01_trigger", "event_action"),
    ("pagerduty_events", "01_trigger", "payload.summary"),
    ("pagerduty_events", "01_trigger", "payload.source"),
    ("pagerduty_events", "01_trigger", "payload.severity"),
    ("pagerduty_events", "01_trigger", "payload.component"),
    ("pagerduty_events", "01_trigger", "payload.group"),
    ("pagerduty_events", "01_trigger", "payload.class"),
    ("pagerduty_events", "01_trigger", "client"),
    ("pagerduty_events", "01_trigger", "links.0.text"),
    ("pagerduty_events", "02_acknowledge", "dedup_key"),
    ("devops_agent", "01_created", "incidentId"),
    ("devops_agent", "01_created", "action"),
    ("devops_agent", "01_created", "title"),
    ("devops_agent", "01_created", "description"),
    ("devops_agent", "01_created", "priority"),
    ("devops_agent", "01_created", "service"),
    ("alertmanager", "01_firing_two_alerts", "status"),
    ("alertmanager", "01_firing_two_alerts", "alerts.0.status"),
    ("alertmanager", "01_firing_two_alerts", "alerts.0.fingerprint"),
    ("alertmanager", "01_firing_two_alerts", "alerts.0.labels.service"),
    ("alertmanager", "01_firing_two_alerts", "alerts.1.labels.severity"),
    ("alertmanager", "01_firing_two_alerts", "alerts.0.annotations.summary"),
    ("alertmanager", "01_firing_two_alerts", "alerts.0.annotations.description"),
    ("grafana", "01_firing", "alerts.0.labels.service"),
    ("grafana", "01_firing", "alerts.0.annotations.summary"),
    ("grafana", "01_firing", "alerts.0.dashboardURL"),
    ("eventbridge", "01_alarm_state_change_alarm", "detail-type"),
    ("eventbridge", "01_alarm_state_change_alarm", "detail.alarmName"),
    ("eventbridge", "01_alarm_state_change_alarm", "detail.state.reason"),
    ("eventbridge", "01_alarm_state_change_alarm", "detail.configuration.description"),
    (
        "eventbridge",
        "01_alarm_state_change_alarm",
        "detail.configuration.metrics.0.metricStat.metric.dimensions.ServiceName",
    ),
    ("eventbridge", "03_ecs_task_stopped_exit_code", "detail.group"),
    ("eventbridge", "03_ecs_task_stopped_exit_code", "detail.containers.0.reason"),
    ("sns_cloudwatch", "02_alarm_metric", "Message.AlarmName"),
    ("sns_cloudwatch", "02_alarm_metric", "Message.NewStateReason"),
    ("sns_cloudwatch", "02_alarm_metric", "Message.AlarmDescription"),
    ("sns_cloudwatch", "02_alarm_metric", "Message.Trigger.Dimensions.0.value"),
]


@pytest.fixture(autouse=True)
def sns_certificates(tmp_path, settings):
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)


def assert_refused(response, source, field: str, json_type: str) -> None:
    """A 400 in the one error shape, naming `field` and what was sent instead of a string;
    no incident, and the delivery logged as rejected with the reason."""
    assert response.status_code == 400, response.content
    problem = f"Expected a string, got {json_type}."
    assert response.json() == {
        "code": "invalid",
        "message": f"{field}: {problem}",
        "fields": {field: [problem]},
    }
    assert not Incident.objects.exists()
    delivery = Delivery.objects.get(alert_source=source)
    assert (delivery.outcome, delivery.status_code) == ("rejected", 400)
    assert delivery.reason == f"{field}: {problem}"


def alert24_body(field: str, value: Any) -> dict[str, Any]:
    body = json.loads(load_fixture("alert24_incidents", "01_create_incident")["body"])
    name, _, index = field.partition(".")
    body[name] = [value] if index else value
    return body


def post_producer(client, producer: str, name: str, field: str, value: Any):
    """The producer's fixture with `value` at `field`, signed anew where the producer signs, at
    the time it was sent."""
    fixture = copy.deepcopy(load_fixture(producer, name))
    body = json.loads(fixture["body"])
    if producer == "sns_cloudwatch":
        alarm = json.loads(body["Message"])
        set_path(alarm, field.removeprefix("Message."), value)
        body = sns_signed({**body, "Message": json.dumps(alarm)})
    else:
        set_path(body, field, value)
    raw = json.dumps(body)
    if producer == "devops_agent":
        stamp = fixture["headers"]["x-amzn-event-timestamp"]
        digest = hmac.new(b"test-secret", f"{stamp}:{raw}".encode(), hashlib.sha256).digest()
        fixture["headers"]["x-amzn-event-signature"] = base64.b64encode(digest).decode()
    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        return send(client, fixture, url_for(fixture), body=raw)


def sns_signed(message: dict[str, Any]) -> dict[str, Any]:
    """Sign an SNS message with the fixtures' test key, as SNS would (SignatureVersion 2)."""
    key = serialization.load_pem_private_key(SNS_KEY.read_bytes(), password=None)
    message = {**message, "SignatureVersion": "2"}
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), hashes.SHA256())
    return {**message, "Signature": base64.b64encode(signature).decode()}


@WRONG
@pytest.mark.parametrize("url", ["/api/v1/incidents", "/api/v1/alerts"])
@pytest.mark.parametrize("field", ALERT24_FIELDS)
def test_alert24_string_fields_refuse_other_types(client, url, field, wrong):
    fixture = load_fixture("alert24_incidents", "01_create_incident")
    source = source_for("alert24_incidents", fixture)
    value, json_type = WRONG_VALUES[wrong]

    response = send(client, fixture, url, body=json.dumps(alert24_body(field, value)))

    assert_refused(response, source, field, json_type)


def test_an_unquoted_shell_variable_is_not_a_component(client):
    fixture = load_fixture("alert24_incidents", "01_create_incident")
    source = source_for("alert24_incidents", fixture)
    body = '{"title": "Checkout 5xx", "alias": 4711, "components": [4711]}'

    response = send(client, fixture, "/api/v1/incidents", body=body)

    assert_refused(response, source, "alias", "a number")


def test_null_is_still_absent_and_unicode_text_still_fine(client):
    fixture = load_fixture("alert24_incidents", "01_create_incident")
    source_for("alert24_incidents", fixture)
    body = {
        "title": "Zahlungsfehler über Limit ✓ 東京",
        "alias": "zahlungen-ü",
        "description": None,
        "severity": None,
        "components": ["zahlungs-dienst-ü"],
    }

    response = send(client, fixture, "/api/v1/incidents", body=json.dumps(body))

    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert (incident.title, incident.alias) == ("Zahlungsfehler über Limit ✓ 東京", "zahlungen-ü")
    assert (incident.description, incident.severity) == ("", "medium")  # the source's default
    assert [component.name for component in incident.components.all()] == ["zahlungs-dienst-ü"]


@WRONG
@pytest.mark.parametrize(("producer", "name", "field"), PRODUCER_FIELDS)
def test_producers_string_fields_refuse_other_types(client, producer, name, field, wrong):
    fixture = load_fixture(producer, name)
    source = source_for(producer, fixture)
    value, json_type = WRONG_VALUES[wrong]

    response = post_producer(client, producer, name, field, value)

    assert_refused(response, source, field, json_type)


def test_pagerduty_custom_details_stay_free_form(client):
    """custom_details takes whatever PagerDuty takes: a number there is a detail, not the
    environment "2"."""
    fixture = load_fixture("pagerduty_events", "01_trigger")
    source_for("pagerduty_events", fixture)

    response = post_producer(
        client, "pagerduty_events", "01_trigger", "payload.custom_details", {"environment": 2}
    )

    assert response.status_code == 202, response.content
    assert Incident.objects.get().environment == ""


@pytest.mark.parametrize(
    "body", [{"status": True}, {"status": 3}, {"status": ["resolved"]}, {"status": {"v": 1}}]
)
def test_a_status_update_refuses_other_types(logged_in_client, body):
    incident = IncidentFactory()

    response = logged_in_client.put(
        f"/api/v1/incidents/{incident.pk}", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["fields"]["status"][0].startswith("Expected a string, got ")
    incident.refresh_from_db()
    assert incident.status == "triggered"


@pytest.mark.parametrize("text", [4711, 2.5, True, ["rolled back"], {"text": "rolled back"}])
def test_a_note_refuses_other_types(logged_in_client, text):
    incident = IncidentFactory()

    response = logged_in_client.post(
        f"/api/v1/incidents/{incident.pk}/notes",
        json.dumps({"text": text}),
        content_type="application/json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["fields"]["text"][0].startswith("Expected a string, got ")
    assert not TimelineEntry.objects.filter(kind="note").exists()


def test_a_note_in_unicode_is_fine(logged_in_client):
    incident = IncidentFactory()

    response = logged_in_client.post(
        f"/api/v1/incidents/{incident.pk}/notes",
        json.dumps({"text": "Zurückgerollt ✓ 東京"}),
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert incident.timeline.get(kind="note").data == {"text": "Zurückgerollt ✓ 東京"}
