"""Helpers for replaying alert producers' requests through the real endpoints."""

import shutil
from pathlib import Path
from typing import Any

from django.test import Client

from pipelines.models import AlertSource
from tests.fixtures import PRODUCERS as FIXTURES
from tests.pipelines.factories import AlertSourceFactory

KEY = "test-secret"
# The alert source kind each producer's fixtures are sent to.
KINDS = {
    "sns_cloudwatch": "cloudwatch_sns",
    "eventbridge": "eventbridge",
    "alertmanager": "alertmanager",
    "grafana": "grafana",
    "devops_agent": "webhook",
    "pagerduty_events": "pagerduty",
    "alert24_incidents": "generic",
}
SNS_CERTIFICATE = FIXTURES / "sns_cloudwatch" / "test-signing-cert.pem"
SNS_KEY = FIXTURES / "sns_cloudwatch" / "test-signing-key.pem"
SNS_CERT_URL = (
    "https://sns.us-east-1.amazonaws.com/"
    "SimpleNotificationService-1591f31ecd0529303a805c6f1be6b972.pem"
)


def source_for(producer: str, fixture: dict[str, Any], **fields: Any) -> AlertSource:
    settings = {**fixture.get("source_settings", {}), **fields}
    return AlertSourceFactory(kind=KINDS[producer], key=KEY, secret="test-secret", **settings)


def install_sns_certificate(folder: Path) -> None:
    """Put the fixtures' signing certificate where SNS_CERT_DIR looks for it."""
    shutil.copy(SNS_CERTIFICATE, folder / SNS_CERT_URL.rsplit("/", 1)[1])


def url_for(fixture: dict[str, Any], incident_id: int | None = None) -> str:
    if fixture.get("auth") == "url":
        return f"/api/v1/alert-sources/{KEY}/alerts"
    path = fixture.get("upstream_path") or "/api/v1/alerts"
    return path.replace("{incident_id}", str(incident_id))


def send(client: Client, fixture: dict[str, Any], url: str, body: str | None = None) -> Any:
    headers = dict(fixture["headers"])
    content_type = headers.pop("Content-Type", "application/json")
    raw = (fixture["body"] if body is None else body).encode("utf-8")
    return client.generic(
        fixture.get("method", "POST"), url, raw, content_type=content_type, headers=headers
    )
