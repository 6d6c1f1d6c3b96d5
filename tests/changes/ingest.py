"""Helpers for posting producer requests through the real HTTP endpoints."""

import json
from typing import Any

from django.test import Client

from pipelines.models import DeploymentPipeline
from tests.pipelines.factories import DeploymentPipelineFactory

# Which pipeline kind and endpoint each change producer's fixtures go to.
PRODUCERS = {
    "alert24": ("generic", "/api/v1/changes"),
    "github": ("github", "/api/v1/pipelines/{key}/events"),
    "gitlab": ("gitlab", "/api/v1/pipelines/{key}/events"),
    "codepipeline": ("codepipeline", "/api/v1/changes"),
    "pagerduty_change": ("pagerduty", "/v2/change/enqueue"),
    "ilert": ("generic", "/api/deployment-events"),
    "jenkins": ("jenkins", "/api/v1/pipelines/{key}/events"),
    "flux": ("flux", "/api/v1/pipelines/{key}/events"),
    "argocd": ("argocd", "/api/v1/changes"),
    "terraform_cloud": ("terraform_cloud", "/api/v1/pipelines/{key}/events"),
    "launchdarkly": ("launchdarkly", "/api/v1/pipelines/{key}/events"),
    "flagsmith": ("flagsmith", "/api/v1/pipelines/{key}/events"),
    "unleash": ("unleash", "/api/v1/changes"),
    "cdevents": ("cdevents", "/api/v1/changes"),
}
KEY = "test-secret"


def pipeline_for(producer: str, **fields: Any) -> DeploymentPipeline:
    kind, _ = PRODUCERS[producer]
    return DeploymentPipelineFactory(kind=kind, key=KEY, secret="test-secret", **fields)


def post_raw(
    client: Client, url: str, body: bytes | str, headers: dict[str, str] | None = None
) -> Any:
    headers = dict(headers or {})
    content_type = headers.pop("Content-Type", "application/json")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return client.generic("POST", url, raw, content_type=content_type, headers=headers)


def post_fixture(client: Client, producer: str, fixture: dict[str, Any], key: str = KEY) -> Any:
    """Send the fixture's exact bytes and headers, as the producer would."""
    _, path = PRODUCERS[producer]
    headers = dict(fixture["headers"])
    if key != KEY and "Authorization" in headers:
        headers["Authorization"] = f"Bearer {key}"
    return post_raw(client, path.format(key=key), fixture["body"], headers)


def post_json(client: Client, body: Any, key: str = KEY, **headers: str) -> Any:
    return post_raw(
        client, "/api/v1/changes", json.dumps(body), {"Authorization": f"Bearer {key}", **headers}
    )
