"""Property-based fuzzing of every ingest endpoint (hypothesis): generated JSON bodies, raw
bytes and headers, sent through the real HTTP stack to integrations of every kind. Whatever
comes in, the answer is never a 5xx, and every refusal is in the one JSON error shape. An SNS
message's SigningCertURL never reaches a fetch unless it is a .pem file on an SNS endpoint, and
no delivery log keeps an integration key, however the body spells or nests it."""

import json
import re
import urllib.request
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.models import Delivery
from tests.fixtures import load_fixture
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


# --- SNS signing certificate URLs --------------------------------------------------------------

# An https URL of a .pem file on an SNS endpoint, in printable ASCII: the only kind of URL the
# certificate lookup may reach (written here independently of pipelines.sns).
FETCHABLE = re.compile(
    r"https://sns\.(?:[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}\.amazonaws\.com"
    r"|cn-[a-z]+-\d{1,2}\.amazonaws\.com\.cn)/[\x21-\x7e]*\.pem"
)
SNS_NOTIFICATION = json.loads(load_fixture("sns_cloudwatch", "02_alarm_metric")["body"])
cert_urls = st.one_of(
    st.text(max_size=120),
    st.builds(
        lambda scheme, userinfo, host, port, path, suffix: (
            f"{scheme}://{userinfo}{host}{port}/{path}{suffix}"
        ),
        st.sampled_from(("https", "http", "HTTPS", "ftp", "")),
        st.sampled_from(("", "", "user@", "a:b@", "sns.us-east-1.amazonaws.com@")),
        st.sampled_from(
            (
                "sns.us-east-1.amazonaws.com",
                "sns.cn-north-1.amazonaws.com.cn",
                "sns.s3.amazonaws.com",
                "sns.us-east-1.amazonaws.com.evil.io",
                "sns.us-east-1.amazonaws.com.",
                "127.0.0.1",
                "[::1]",
            )
        )
        | st.text(max_size=30),
        st.sampled_from(("", "", ":443", ":", ":x", ":99999")),
        st.text(max_size=40),  # spaces, newlines, DEL, anything
        st.sampled_from((".pem", ".pem", ".pem?x=1", ".pem#f", ".txt", "", ".pem\n", ".pem ")),
    ),
    json_values,
)


@pytest.fixture
def network_down(monkeypatch) -> list[str]:
    """Certificates are never fetched in tests: the network is down. Returns what was tried."""
    tried: list[str] = []

    def unreachable(url: str, timeout: float) -> None:  # the network, not our code
        tried.append(url)
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    return tried


@settings(FUZZ, max_examples=400)
@given(cert_url=cert_urls)
def test_malformed_sns_certificate_urls_never_get_a_5xx(
    client, endpoints, tmp_path, network_down, cert_url
):
    url = f"/api/v1/alert-sources/{KEY}-s{SOURCE_KINDS.index('cloudwatch_sns')}/alerts"
    body = json.dumps({**SNS_NOTIFICATION, "SigningCertURL": cert_url}).encode()

    # An empty folder: every lookup of a well-formed URL goes on to a fetch.
    with override_settings(SNS_CERT_DIR=str(tmp_path)):
        response = send(client, url, body, "text/plain; charset=UTF-8", {})

    assert_answered(response)
    assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    assert all(FETCHABLE.fullmatch(tried) for tried in network_down), network_down


# --- keys under escaped names, at any depth, never reach the delivery log -----------------------

# Names producers give credentials, as sent: each may arrive \u-escaped in the raw JSON.
CREDENTIAL_NAMES = ("routing_key", "integrationKey", "token", "Token", "api_key", "apiKey",
                    "Authorization", "client_secret", "password", "SubscribeURL")  # fmt: skip
ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))", re.DOTALL)


def spelled(draw: Any, text: str) -> str:
    """`text` as it may be written inside a JSON string: each character as is or \\u-escaped."""
    escapes = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(
        f"\\u{ord(character):04x}" if escape else json.dumps(character)[1:-1]
        for character, escape in zip(text, escapes, strict=True)
    )


@st.composite
def bodies_holding(draw: Any, key: str, body_key: bool) -> bytes:
    """A JSON object with `key` in it under a credential's name or any other, at some depth,
    maybe in a list, names and key partly \\u-escaped. With `body_key` it is also the top-level
    routing_key and integrationKey, which PagerDuty's and ilert's endpoints authenticate by."""
    node = f'"{spelled(draw, key)}"'
    if draw(st.booleans()):
        node = f"[{node}]"
    for _ in range(draw(st.integers(1, 5))):
        name = spelled(draw, draw(st.sampled_from(CREDENTIAL_NAMES + FIELDS)))
        filler = json.dumps(draw(st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=3)))
        members = [filler[1:-1]] if filler != "{}" else []
        node = "{" + ", ".join([*members, f'"{name}": {node}']) + "}"
    if body_key:
        top = [f'"{spelled(draw, name)}": "{spelled(draw, key)}"' for name in CREDENTIAL_NAMES[:2]]
        node = "{" + ", ".join([node[1:-1], *top]) + "}"  # last: a duplicate name loses
    return node.encode()


def shown(text: str, key: str) -> bool:
    """Whether `text` shows `key`, as written or once its JSON escapes are undone."""
    unescaped = ESCAPE.sub(lambda match: chr(int(match[1], 16)) if match[1] else match[2], text)
    return key in text or key in unescaped


@pytest.fixture
def keyed_endpoints(endpoints) -> list[tuple[str, str, bool]]:
    """(url, the key it takes, whether the key travels in the body) for every way a key is
    presented: Bearer header, URL path, PagerDuty's routing_key, ilert's integrationKey."""
    targets = [("/api/v1/changes", KEY, False), ("/api/v1/changes/batch", KEY, False)]
    targets += [("/api/v1/alerts", f"{KEY}-s0", False), ("/api/v1/incidents", f"{KEY}-s0", False)]
    for number in range(len(PIPELINE_KINDS)):
        targets.append((f"/api/v1/pipelines/{KEY}-p{number}-open/events", "", False))
    for number in range(len(SOURCE_KINDS)):
        targets.append((f"/api/v1/alert-sources/{KEY}-s{number}/alerts", "", False))
    pagerduty_pipeline = f"{KEY}-p{PIPELINE_KINDS.index('pagerduty')}-open"
    targets.append(("/v2/change/enqueue", pagerduty_pipeline, True))
    targets.append(("/api/deployment-events", f"{KEY}-p0-open", True))
    targets.append(("/v2/enqueue", f"{KEY}-s{SOURCE_KINDS.index('pagerduty')}", True))
    # A key in the path is the path's last-but-one segment.
    return [(url, key or url.split("/")[-2], in_body) for url, key, in_body in targets]


@settings(FUZZ, max_examples=400)
@given(data=st.data(), content_type=st.sampled_from(CONTENT_TYPES))
def test_keys_under_escaped_names_never_reach_the_delivery_log(
    client, keyed_endpoints, data, content_type
):
    url, key, in_body = data.draw(st.sampled_from(keyed_endpoints))
    body = data.draw(bodies_holding(key, in_body))
    headers = {} if in_body or key in url else {"Authorization": f"Bearer {key}"}
    newest = Delivery.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = client.generic("POST", url, body, content_type=content_type, headers=headers)

    assert_answered(response)
    logged = Delivery.objects.filter(id__gt=newest)
    assert logged.exists(), (url, response.content)
    for delivery in logged:
        assert not shown(delivery.payload, key), delivery.payload
        assert not shown(delivery.reason, key) and not shown(delivery.event_type, key)
