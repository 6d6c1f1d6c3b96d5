"""No credential reaches the delivery log, however the body spells it.

The log is redacted on the parsed document: `"routing\\u005fkey"` is routing_key, a token three
objects down is still a token, and the integration key is masked wherever it appears. A body
that is not JSON is kept only when it shows no key in any form. Everything goes through the
real ingest endpoints, and is read back through the integration page and the deliveries API.
"""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from pipelines.deliveries import REDACTED, WITHHELD
from pipelines.models import Delivery
from tests.fixtures import load_fixture
from tests.incidents.ingest import install_sns_certificate
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory
from tests.teams.factories import UserFactory

pytestmark = pytest.mark.django_db

KEY = "redaction-key-0123456789"
# The key as JSON may spell it: every character a \u escape, or only some.
ESCAPED_KEY = "".join(f"\\u{ord(character):04x}" for character in KEY)
PARTLY_ESCAPED_KEY = KEY.replace("-", "\\u002d").replace("k", "\\u006b")


def escaped_names(body: dict, *names: str) -> str:
    """`body` as JSON, each of `names` written with its "_" or first letter \\u-escaped."""
    text = json.dumps(body)
    for name in names:
        spelled = (
            name.replace("_", "\\u005f") if "_" in name else f"\\u{ord(name[0]):04x}{name[1:]}"
        )
        text = text.replace(f'"{name}"', f'"{spelled}"')
    return text


def post(url: str, body: str | bytes, **headers: str):
    raw = body.encode() if isinstance(body, str) else body
    return Client().generic("POST", url, raw, content_type="application/json", headers=headers)


def stored_payload() -> str:
    return Delivery.objects.get().payload


def assert_no_key(text: str) -> None:
    unescaped = re.sub(r"\\u([0-9a-fA-F]{4})", lambda match: chr(int(match[1], 16)), text)
    assert KEY not in text and KEY not in unescaped, text
    assert ESCAPED_KEY.lower() not in text.lower() and "\\u002d" not in text.lower()


def pagerduty_alert() -> dict:
    return {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "orders-db/replica-lag",
        "payload": {
            "summary": "orders-db replica lag above 30 s",
            "source": "orders-db-replica-2",
            "severity": "error",
            "custom_details": {"replica": {"auth": {"api_token": "tok-4711", "note": KEY}}},
        },
    }


def pagerduty_change() -> dict:
    return {
        "routing_key": KEY,
        "payload": {
            "summary": "Deployed inventory-service 2026.11.20-3",
            "source": "inventory-service",
            "custom_details": {"deploy": [{"ROUTING-KEY": KEY, "clientSecret": "s3cr3t"}]},
        },
    }


def ilert_deployment() -> dict:
    return {
        "integrationKey": KEY,
        "summary": "Deployed search-api v1.31.0",
        "customDetails": {"service": "search-api", "callback": {"password": "hunter2"}},
    }


@pytest.mark.parametrize(
    ("url", "body", "names", "others"),
    [
        ("/v2/enqueue", pagerduty_alert(), ("routing_key", "api_token"), ("tok-4711",)),
        ("/v2/change/enqueue", pagerduty_change(), ("routing_key",), ("s3cr3t",)),
        ("/api/deployment-events", ilert_deployment(), ("integrationKey",), ("hunter2",)),
    ],
)
def test_a_key_under_an_escaped_field_name_never_reaches_the_log(url, body, names, others):
    integration = (
        AlertSourceFactory(kind="pagerduty", key=KEY)
        if url == "/v2/enqueue"
        else DeploymentPipelineFactory(kind="pagerduty" if "change" in url else "generic", key=KEY)
    )

    # Ingest reads "routing\u005fkey" as routing_key: the key in it is what authenticates.
    response = post(url, escaped_names(body, *names))

    assert response.status_code == 202, response.content
    payload = stored_payload()
    assert_no_key(payload)
    assert not any(other in payload for other in others)
    stored = json.loads(payload)  # the redacted document, re-serialised
    assert stored[names[0]] == REDACTED
    delivery = Delivery.objects.get()
    assert (delivery.pipeline or delivery.alert_source) == integration


def test_keys_and_credentials_at_any_depth_are_masked_in_the_parsed_document():
    DeploymentPipelineFactory(key=KEY)
    body = {
        "component": "payments",
        "description": f"deploy with {KEY} inside",
        "metadata": {
            "steps": [
                {"Authorization": "Bearer abc.def", "x-api-key": "k-123"},
                {"nested": {"routing_key": "another-key-entirely", "ok": "kept"}},
                {"SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Token=t0k3n"},
                {KEY: "the key as a name"},
            ]
        },
    }
    text = escaped_names(body, "routing_key", "Authorization").replace(KEY, PARTLY_ESCAPED_KEY)

    response = post("/api/v1/changes", text, Authorization=f"Bearer {KEY}")

    assert response.status_code == 202, response.content
    payload = stored_payload()
    assert_no_key(payload)
    for credential in ("abc.def", "k-123", "another-key-entirely", "t0k3n"):
        assert credential not in payload
    stored = json.loads(payload)
    steps = stored["metadata"]["steps"]
    assert steps[0] == {"Authorization": REDACTED, "x-api-key": REDACTED}
    assert steps[1]["nested"] == {"routing_key": REDACTED, "ok": "kept"}
    assert steps[3] == {REDACTED: "the key as a name"}
    assert stored["description"] == f"deploy with {REDACTED} inside"


def test_a_body_without_credentials_is_kept_exactly_as_sent():
    DeploymentPipelineFactory(key=KEY)
    text = '{ "component" : "payments",\n  "description" : "Deploy \\u00fcber v2" }'

    assert post("/api/v1/changes", text, Authorization=f"Bearer {KEY}").status_code == 202

    assert stored_payload() == text


@pytest.mark.parametrize(
    "body",
    [
        f'{{"component": "payments", "description": "{KEY}"',  # cut short
        f'{{"component": "payments", "description": "{PARTLY_ESCAPED_KEY}",}}',
        f'{{"component": "payments", "description": "{ESCAPED_KEY}" oops}}',
        f"component=payments&key={KEY.replace('-', '%2D')}",
        '{"routing\\u005fkey": "some-other-key", "component": ',
        "Authorization: Bearer abc.def",
    ],
)
def test_a_body_that_is_not_json_is_withheld_when_it_shows_a_credential(body):
    DeploymentPipelineFactory(key=KEY)

    response = post("/api/v1/changes", body, Authorization=f"Bearer {KEY}")

    assert response.status_code == 400 and response.json()["code"] == "malformed_json"
    assert stored_payload() == WITHHELD


def test_a_body_that_is_not_json_and_shows_no_credential_is_kept():
    DeploymentPipelineFactory(key=KEY)
    body = '{"component": "payments", "description": "forgot the brace"'

    assert post("/api/v1/changes", body, Authorization=f"Bearer {KEY}").status_code == 400

    assert stored_payload() == body


def test_an_sns_subscription_token_is_not_logged(settings, tmp_path):
    settings.SNS_CERT_DIR = str(tmp_path)
    install_sns_certificate(tmp_path)
    fixture = load_fixture("sns_cloudwatch", "01_subscription_confirmation")
    AlertSourceFactory(kind="cloudwatch_sns", key=KEY)
    token = json.loads(fixture["body"])["Token"]
    headers = {k: v for k, v in fixture["headers"].items() if k != "Content-Type"}

    response = Client().generic(
        "POST",
        f"/api/v1/alert-sources/{KEY}/alerts",
        fixture["body"].encode(),
        content_type=fixture["headers"]["Content-Type"],
        headers=headers,
    )

    assert response.status_code == 200, response.content
    stored = json.loads(stored_payload())
    assert token not in stored_payload()
    assert stored["Token"] == stored["SubscribeURL"] == REDACTED
    assert stored["TopicArn"] == "arn:aws:sns:us-east-1:482916573014:whatchanged-alarms"


def test_a_key_echoed_into_the_refusal_reason_is_masked_there_too():
    AlertSourceFactory(kind="cloudwatch_sns", key=KEY)

    response = post(f"/api/v1/alert-sources/{KEY}/alerts", json.dumps({"Type": KEY}))

    assert response.status_code == 401
    delivery = Delivery.objects.get()
    assert KEY not in delivery.reason and REDACTED in delivery.reason
    assert_no_key(delivery.payload)


@pytest.mark.parametrize("word", ["pipelines", "alert-sources"])
def test_the_integration_page_and_the_deliveries_api_show_the_redacted_document(word):
    if word == "pipelines":
        integration = DeploymentPipelineFactory(kind="pagerduty", key=KEY)
        body = escaped_names(pagerduty_change(), "routing_key")
        assert post("/v2/change/enqueue", body).status_code == 202
    else:
        integration = AlertSourceFactory(kind="pagerduty", key=KEY)
        body = escaped_names(pagerduty_alert(), "routing_key")
        assert post("/v2/enqueue", body).status_code == 202
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))

    page = staff.get(
        reverse("settings:integration", kwargs={"kind_word": word, "pk": integration.pk})
    ).content.decode()
    rows = staff.get(f"/api/v1/{word}/{integration.pk}/deliveries").json()

    assert_no_key(page)
    assert "&quot;routing_key&quot;: &quot;[redacted]&quot;" in page
    assert len(rows) == 1
    assert_no_key(rows[0]["payload"])
    assert json.loads(rows[0]["payload"])["routing_key"] == REDACTED
