"""Property-based fuzzing of every ingest endpoint (hypothesis): generated JSON bodies, raw
bytes and headers, sent through the real HTTP stack to integrations of every kind. Whatever
comes in, the answer is never a 5xx, and every refusal is in the one JSON error shape."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory

pytestmark = pytest.mark.django_db

KEY = "fuzz-key-0123456789"
PIPELINE_KINDS = (
    "generic",
    "github",
    "gitlab",
    "codepipeline",
    "pagerduty",
    "flux",
    "argocd",
    "terraform_cloud",
    "launchdarkly",
    "flagsmith",
    "unleash",
    "cdevents",
    "jenkins",
)
SOURCE_KINDS = (
    "generic",
    "cloudwatch_sns",
    "eventbridge",
    "alertmanager",
    "grafana",
    "webhook",
    "pagerduty",
)
# The producers' field names, so that generated bodies get past "not an object" into the
# adapters' own parsing.
FIELDS = (
    "component", "description", "summary", "version", "environment", "occurred_at", "links",
    "idempotency_key", "changes", "integrationKey", "routing_key", "event_action", "payload",
    "alias", "title", "severity", "status", "components", "alerts", "labels", "annotations",
    "startsAt", "endsAt", "fingerprint", "Type", "Message", "MessageId", "Signature",
    "detail", "detail-type", "source", "time", "id", "deployment", "deployment_status",
    "object_kind", "build_status", "environment_slug", "ref", "sha", "state", "project",
    "involvedObject", "revision", "app", "phase", "run_id", "notifications", "trigger", "_id",
    "accesses", "feature_state", "new_state", "previous_state", "type", "featureName",
    "context", "subject", "build", "data", "specversion",
)  # fmt: skip
HEADERS = ("X-GitHub-Event", "X-Gitlab-Event", "X-Hub-Signature-256", "X-Gitlab-Token",
           "X-Amz-Sns-Message-Type", "Idempotency-Key", "X-Whatchanged-Signature",
           "X-Signature", "X-TFE-Notification-Signature", "X-LD-Signature",
           "X-Flagsmith-Signature", "ce-id", "ce-type", "ce-specversion", "ce-source")  # fmt: skip
CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded", "",
                 "application/cloudevents+json", "application/cloudevents-batch+json")  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=25,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values | st.just(KEY), max_size=8),
    st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=8).map(
        lambda body: {**body, "alerts": [body], "changes": [body]}
    ),
    json_values,
).map(lambda body: json.dumps(body).encode())
# CDEvents nest what they say three levels down: a body shaped like one, with service types, to
# reach the purl and subject parsing rather than stop at "context is required".
CDEVENT_TYPES = ("dev.cdevents.service.deployed.0.2.0", "dev.cdevents.service.upgraded.0.2.0",
                 "dev.cdevents.service.rolledback.0.2.0", "dev.cdevents.service.removed.0.2.0",
                 "dev.cdevents.pipelinerun.finished.0.2.0")  # fmt: skip
purls = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda name, version, query: f"pkg:oci/{name}@{version}?{query}",
        st.text(max_size=20),
        st.text(max_size=20),
        st.text(max_size=40),
    ),
    json_values,
)
cdevent_bodies = st.fixed_dictionaries(
    {
        "context": st.fixed_dictionaries(
            {"type": st.sampled_from(CDEVENT_TYPES) | json_values},
            optional={"id": json_values, "timestamp": json_values, "source": json_values},
        ),
        "subject": st.fixed_dictionaries(
            {"id": st.text(max_size=40) | json_values},
            optional={
                "content": st.fixed_dictionaries(
                    {"artifactId": purls},
                    optional={"environment": json_values | st.fixed_dictionaries({"id": scalars})},
                )
                | json_values
            },
        ),
    }
)
cdevent_requests = st.one_of(
    cdevent_bodies.map(lambda event: (event, "application/json")),
    cdevent_bodies.map(lambda event: ({"specversion": "1.0", "data": event}, "application/json")),
    cdevent_bodies.map(lambda event: ({"data": event}, "application/cloudevents+json")),
)
raw_bytes = st.binary(max_size=2000)
headers = st.dictionaries(st.sampled_from(HEADERS), st.text(max_size=80), max_size=3)


@pytest.fixture
def endpoints(db) -> list[str]:
    """Every ingest URL, for an integration of every kind (with and without a secret)."""
    urls = ["/api/v1/changes", "/api/v1/changes/batch", "/api/deployment-events"]
    urls += ["/v2/change/enqueue", "/api/v1/incidents", "/api/v1/alerts", "/v2/enqueue"]
    for number, kind in enumerate(PIPELINE_KINDS):
        # Each kind twice: signed bodies are refused early, unsigned ones reach the adapter.
        for suffix, secret in (("", "s"), ("-open", "")):
            pipeline_key = f"{KEY}-p{number}{suffix}"
            DeploymentPipelineFactory(kind=kind, key=pipeline_key, secret=secret)
            urls.append(f"/api/v1/pipelines/{pipeline_key}/events")
    for number, kind in enumerate(SOURCE_KINDS):
        source_key = f"{KEY}-s{number}"
        AlertSourceFactory(kind=kind, key=source_key, secret="" if number % 2 else "s")
        urls.append(f"/api/v1/alert-sources/{source_key}/alerts")
    DeploymentPipelineFactory(kind="generic", key=KEY)  # for the bearer-key endpoints
    return urls


def assert_answered(response: Any) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "fields"}, body
        assert body["message"]


def send(client, url: str, body: bytes, content_type: str, extra: dict) -> Any:
    return client.generic(
        "POST",
        url,
        body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {KEY}", **extra},
    )


FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data(), body=bodies, content_type=st.sampled_from(CONTENT_TYPES), extra=headers)
def test_generated_json_never_gets_a_5xx(client, endpoints, data, body, content_type, extra):
    url = data.draw(st.sampled_from(endpoints))
    assert_answered(send(client, url, body, content_type, extra))


@settings(FUZZ, max_examples=500)
@given(data=st.data(), body=raw_bytes, extra=headers)
def test_arbitrary_bytes_never_get_a_5xx(client, endpoints, data, body, extra):
    url = data.draw(st.sampled_from(endpoints))
    assert_answered(send(client, url, body, "application/json", extra))


@settings(FUZZ, max_examples=300)
@given(cdevent=cdevent_requests, extra=headers)
def test_generated_cdevents_never_get_a_5xx(client, endpoints, cdevent, extra):
    body, content_type = cdevent
    url = f"/api/v1/pipelines/{KEY}-p{PIPELINE_KINDS.index('cdevents')}-open/events"
    assert_answered(send(client, url, json.dumps(body).encode(), content_type, extra))
