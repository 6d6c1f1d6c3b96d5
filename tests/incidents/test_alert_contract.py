"""The ingest contract for alerts: signatures, stale and replayed requests, bad bodies."""

import base64
import copy
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from common.times import parse_timestamp
from incidents.models import Alert, Incident
from pipelines.models import Delivery, SnsSubscription
from pipelines.sns import string_to_sign
from tests.fixtures import load_fixture
from tests.incidents.ingest import (
    KEY,
    SNS_KEY,
    install_sns_certificate,
    send,
    source_for,
    url_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sns_certificates(tmp_path, settings):
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)


def sns_signed(message: dict, version: str = "2") -> dict:
    """Sign an SNS message with the fixtures' test key, as SNS would."""
    key = serialization.load_pem_private_key(SNS_KEY.read_bytes(), password=None)
    message = {**message, "SignatureVersion": version}
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303 - SNS v1 is SHA-1
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def sns_request(client, fixture: dict, message: dict):
    return send(client, fixture, url_for(fixture), body=json.dumps(message))


def test_sns_message_we_sign_ourselves_is_accepted_in_both_versions(client):
    fixture = load_fixture("sns_cloudwatch", "02_alarm_metric")
    source_for("sns_cloudwatch", fixture)
    message = json.loads(fixture["body"])
    alarm = json.loads(message["Message"])
    alarm["AlarmName"] = "Zahlungsfehler Über Limit ✓"
    for number, version in enumerate(("1", "2")):
        resigned = sns_signed(
            {**message, "Message": json.dumps(alarm), "MessageId": f"id-{number}"}, version
        )
        with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
            response = sns_request(client, fixture, resigned)
        assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert incident.alias == "cloudwatch-Zahlungsfehler-Über-Limit-✓"
    assert incident.repeat_count == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Message": "{}"}, "does not match"),
        ({"Signature": "not base64!"}, "base64"),
        ({"SignatureVersion": "3"}, "SignatureVersion"),
        ({"SigningCertURL": "https://evil.example.com/cert.pem"}, "SigningCertURL"),
        ({"SigningCertURL": "http://sns.us-east-1.amazonaws.com/x.pem"}, "SigningCertURL"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.io/x.pem"}, "SigningCertURL"),
        ({"Type": "Surprise"}, "Type"),
        ({"Type": ["Notification"]}, "Type"),  # found by tests/test_fuzz_ingest.py
        ({"Type": None}, "Type"),
    ],
)
def test_sns_signature_problems_are_401_and_change_nothing(client, change, message):
    fixture = load_fixture("sns_cloudwatch", "02_alarm_metric")
    source = source_for("sns_cloudwatch", fixture)
    tampered = {**json.loads(fixture["body"]), **change}

    response = sns_request(client, fixture, tampered)

    assert response.status_code == 401, response.content
    assert response.json()["code"] == "bad_signature" and message in response.json()["message"]
    assert not Incident.objects.exists()
    assert Delivery.objects.get(alert_source=source).outcome == "rejected"


def test_sns_certificate_missing_from_the_folder_is_not_fetched_from_elsewhere(
    client, settings, tmp_path
):
    settings.SNS_CERT_DIR = str(tmp_path / "empty")
    fixture = load_fixture("sns_cloudwatch", "02_alarm_metric")
    source_for("sns_cloudwatch", fixture)
    message = {**json.loads(fixture["body"]), "SigningCertURL": "https://127.0.0.1/cert.pem"}
    response = sns_request(client, fixture, message)
    assert response.status_code == 401 and not Incident.objects.exists()


def test_subscription_confirmation_is_stored_and_nothing_is_fetched(client):
    fixture = load_fixture("sns_cloudwatch", "01_subscription_confirmation")
    source = source_for("sns_cloudwatch", fixture)
    message = json.loads(fixture["body"])
    message["SubscribeURL"] = "https://127.0.0.1:9/should-never-be-visited"
    response = sns_request(client, fixture, sns_signed(message))

    assert response.status_code == 200
    subscription = SnsSubscription.objects.get(alert_source=source)
    assert subscription.confirmed_at is None


def webhook_request(client, fixture: dict, *, body: str):
    """Send `body` signed as the DevOps Agent signs, with the fixture's timestamp."""
    stamp = fixture["headers"]["x-amzn-event-timestamp"]
    digest = hmac.new(b"test-secret", f"{stamp}:{body}".encode(), hashlib.sha256).digest()
    headers = {
        **fixture["headers"],
        "x-amzn-event-timestamp": stamp,
        "x-amzn-event-signature": base64.b64encode(digest).decode(),
    }
    return send(client, {**fixture, "headers": headers}, url_for(fixture), body=body)


def test_signed_webhook_replay_is_refused(client):
    fixture = load_fixture("devops_agent", "01_created")
    source_for("devops_agent", fixture)
    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        first = send(client, fixture, url_for(fixture))
        replay = send(client, fixture, url_for(fixture))

    assert first.status_code == 202
    assert replay.status_code == 401 and replay.json()["code"] == "replayed"
    assert Incident.objects.get().repeat_count == 0


@pytest.mark.parametrize("minutes", [-6, 6])
def test_signed_webhook_with_a_stale_timestamp_is_refused(client, minutes):
    fixture = load_fixture("devops_agent", "01_created")
    source_for("devops_agent", fixture)
    at = parse_timestamp(fixture["received_at"])
    with time_machine.travel(at + timedelta(minutes=minutes), tick=False):
        response = send(client, fixture, url_for(fixture))
    assert response.status_code == 401 and response.json()["code"] == "stale_timestamp"
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amzn-event-signature": "AAAA"},
        {"x-amzn-event-timestamp": "not a time"},
        {"x-amzn-event-signature": ""},
    ],
)
def test_signed_webhook_with_bad_headers_is_refused(client, headers):
    fixture = load_fixture("devops_agent", "01_created")
    source_for("devops_agent", fixture)
    fixture = {**fixture, "headers": {**fixture["headers"], **headers}}
    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        response = send(client, fixture, url_for(fixture))
    assert response.status_code == 401
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("auth_mode", "status"), [("signature", 401), ("key", 202)])
def test_signed_webhook_takes_a_bearer_key_alone_only_in_key_mode(client, auth_mode, status):
    fixture = load_fixture("devops_agent", "01_created")
    source_for("devops_agent", fixture, auth_mode=auth_mode)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    response = send(client, {**fixture, "headers": headers}, "/api/v1/alerts")
    assert response.status_code == status


def test_signed_webhook_with_our_own_signature_works_for_new_bodies(client):
    fixture = load_fixture("devops_agent", "01_created")
    source_for("devops_agent", fixture)
    body = json.loads(fixture["body"])
    body["title"] = "Ünïcödé <script>alert(1)</script>"
    with time_machine.travel(parse_timestamp(fixture["received_at"]), tick=False):
        response = webhook_request(client, fixture, body=json.dumps(body))
    assert response.status_code == 202
    assert Incident.objects.get().title == body["title"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[1, 2]", "body"),
        ('{"title": 42, "alias": "x"}', "title"),
        ('{"title": "t", "severity": "apocalyptic"}', "severity"),
        ('{"title": "t", "tags": "aws"}', "tags"),
    ],
)
def test_bad_alert_bodies_are_400_naming_the_field(client, body, field):
    fixture = load_fixture("alert24_incidents", "01_create_incident")
    source = source_for("alert24_incidents", fixture)
    response = send(client, fixture, "/api/v1/incidents", body=body)

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Incident.objects.exists()
    assert Delivery.objects.get(alert_source=source).status_code == 400


@pytest.mark.parametrize("raw", ["{", "", "null", '{"alerts": "many"}'])
def test_malformed_alert_bodies_are_400(client, raw):
    fixture = load_fixture("alertmanager", "01_firing_two_alerts")
    source_for("alertmanager", fixture)
    response = send(client, fixture, url_for(fixture), body=raw)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}


def test_unknown_alert_key_is_401(client):
    fixture = load_fixture("alertmanager", "01_firing_two_alerts")
    response = send(client, fixture, url_for(fixture))
    assert response.status_code == 401 and response.json()["code"] == "unknown_key"
    path_keyed = send(client, fixture, "/api/v1/alert-sources/nope/alerts")
    assert path_keyed.status_code == 401


def test_resolve_without_an_open_incident_is_ignored_not_an_error(client):
    fixture = load_fixture("eventbridge", "02_alarm_state_change_ok")
    source_for("eventbridge", fixture)
    response = send(client, fixture, url_for(fixture))
    assert response.status_code == 200
    assert response.json()["results"][0]["action"] == "ignored"
    assert not Incident.objects.exists()


def test_one_alert_ingest_costs_a_small_constant_number_of_queries(
    client, django_assert_max_num_queries
):
    fixture = load_fixture("pagerduty_events", "01_trigger")
    source_for("pagerduty_events", fixture)
    send(client, fixture, url_for(fixture))  # raises
    for _ in range(3):  # repeats
        with django_assert_max_num_queries(12):
            assert send(client, fixture, url_for(fixture)).status_code == 202


def test_alertmanager_body_with_many_alerts_is_one_transaction(client):
    fixture = load_fixture("alertmanager", "01_firing_two_alerts")
    source_for("alertmanager", fixture)
    body = json.loads(fixture["body"])
    alerts = [copy.deepcopy(body["alerts"][0]) for _ in range(50)]
    for number, alert in enumerate(alerts):
        alert["fingerprint"] = f"{number:016x}"
    response = send(client, fixture, url_for(fixture), body=json.dumps({**body, "alerts": alerts}))
    assert response.status_code == 202
    # One storm: the first raises the incident, the 49 others join it (one alert each).
    assert Incident.objects.count() == 1 and len(response.json()["results"]) == 50
    assert Alert.objects.count() == 50
