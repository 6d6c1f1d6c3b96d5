"""Logs, request ids and metrics, read the way an operator reads them: JSON log lines as the
production formatter writes them, and /metrics as Prometheus scrapes it."""

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common import logs
from incidents.models import Incident
from tests.changes.ingest import post_raw
from tests.conftest import wait_for
from tests.pipelines.factories import AlertSourceFactory, DeploymentPipelineFactory

PIPELINE_KEY = "observed-pipeline-key-0123456789"
SOURCE_KEY = "observed-source-key-0123456789"
METRICS_TOKEN = "scrape-token"
CHANGE = {"description": "Deploy payments v2", "component": "payments", "environment": "prod"}


@pytest.fixture
def log_lines():
    """What the production handler prints (JSON lines), for the whole test, every thread."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield read
    root.removeHandler(handler)
    root.setLevel(level)


def post_change(client, body=CHANGE, key=PIPELINE_KEY):
    raw = body if isinstance(body, str) else json.dumps(body)
    return post_raw(client, f"/api/v1/pipelines/{key}/events", raw)


def raise_alert(client, **headers):
    body = json.dumps({"title": "Checkout down", "alias": "checkout-down"})
    return post_raw(
        client, "/api/v1/incidents", body, {"Authorization": f"Bearer {SOURCE_KEY}", **headers}
    )


@pytest.fixture
def pipeline(db):
    return DeploymentPipelineFactory(kind="generic", key=PIPELINE_KEY)


# --- Request ids and log lines ----------------------------------------------------------------


def test_each_response_names_its_request_id_and_the_log_line_carries_it(
    client, pipeline, log_lines
):
    response = post_change(client)

    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    [line] = [line for line in log_lines() if line["event"] == "request"]
    assert line["request_id"] == request_id
    assert line["status"] == 202 and line["method"] == "POST"
    assert line["route"] == "/api/v1/pipelines/<str:key>/events"  # the pattern, not the key
    assert line["level"] == "info" and "timestamp" in line


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("lb-7f3a9c:01HFX2", True),
        ("has spaces", False),
        ("x" * 129, False),
        ("<script>", False),
    ],
)
def test_a_request_id_from_the_proxy_is_kept_when_it_is_a_plain_token(client, db, sent, kept):
    response = client.get("/login/", headers={"X-Request-ID": sent})
    assert (response["X-Request-ID"] == sent) is kept


def test_integration_keys_never_reach_the_logs(client, pipeline, log_lines):
    post_change(client, "{not json")  # 400: Django logs the path of every 4xx
    post_change(client, key="unknown-key-9876543210")  # 401
    post_change(client, {"description": ""})  # 400 naming the field
    try:  # a traceback that carries one
        raise ValueError(f"while handling /api/v1/pipelines/{PIPELINE_KEY}/events")
    except ValueError:
        logging.getLogger("pipelines").exception("ingest failed")

    output = json.dumps(log_lines())
    assert "Bad Request" in output and "Unauthorized" in output  # Django's own lines are there
    assert PIPELINE_KEY not in output and "unknown-key-9876543210" not in output
    assert "/pipelines/[redacted]/events" in output and "ValueError" in output


def test_the_request_id_follows_the_alert_into_the_worker_that_correlates_it(
    client, real_worker, log_lines
):
    AlertSourceFactory(kind="generic", key=SOURCE_KEY)

    response = raise_alert(client, **{"X-Request-ID": "trace-4d2e"})

    assert response.status_code == 202
    incident_id = response.json()["id"]
    assert wait_for(lambda: Incident.objects.get(pk=incident_id).correlated_at is not None)

    def correlated() -> list[dict]:
        return [line for line in log_lines() if line["event"] == "incident correlated"]

    assert wait_for(lambda: bool(correlated()), timeout=5)
    [line] = correlated()
    assert line["request_id"] == "trace-4d2e"
    assert line["task"] == "incidents.correlate_incident" and line["incident_id"] == incident_id
    assert line["task_id"]


# --- /metrics ---------------------------------------------------------------------------------


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.content
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def ingest_count(samples, outcome: str, status: int, kind: str = "generic") -> float:
    labels = {
        "integration": "deploymentpipeline",
        "kind": kind,
        "outcome": outcome,
        "status": str(status),
    }
    return samples.get(("whatchanged_ingest_requests_total", tuple(sorted(labels.items()))), 0)


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(client, settings):
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = METRICS_TOKEN
    for header in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "scrape-token"}):
        response = client.get("/metrics", headers=header)
        assert response.status_code == 401 and "whatchanged" not in response.content.decode()


def test_metrics_count_ingest_requests_by_kind_outcome_and_status(client, pipeline, metrics_token):
    before = scrape(client)

    for _ in range(3):
        post_change(client)
    post_change(client, {"description": ""})
    post_change(client, key="unknown-key-9876543210")

    after = scrape(client)
    assert ingest_count(after, "accepted", 202) - ingest_count(before, "accepted", 202) == 3
    assert ingest_count(after, "rejected", 400) - ingest_count(before, "rejected", 400) == 1
    unknown = ingest_count(after, "rejected", 401, kind="unknown")
    assert unknown - ingest_count(before, "rejected", 401, kind="unknown") == 1
    durations = (
        "whatchanged_ingest_duration_seconds_count",
        (("integration", "deploymentpipeline"),),
    )
    assert after[durations] - before.get(durations, 0) == 5


def test_metrics_show_correlation_lag_queue_depth_and_backlog(
    client, pipeline, metrics_token, django_capture_on_commit_callbacks
):
    AlertSourceFactory(kind="generic", key=SOURCE_KEY)
    lag = "whatchanged_correlation_lag_seconds_count"
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):  # tasks run eagerly in tests
        post_change(client)
        raise_alert(client)

    after = scrape(client)
    for event in ("change", "incident"):
        key = (lag, (("event", event),))
        assert after[key] - before.get(key, 0) == 1, event
    assert after[("whatchanged_uncorrelated_change_age_seconds", ())] == 0
    assert after[("whatchanged_celery_queue_depth", (("queue", "default"),))] >= 0


# --- A database that does not answer ----------------------------------------------------------


def test_ingest_without_a_database_is_503_with_retry_after(client, database_unreachable):
    response = post_change(client)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "unavailable"


def test_a_page_without_a_database_is_503_with_retry_after(client, database_unreachable):
    client.cookies["sessionid"] = "a-session-the-database-would-know"
    response = client.get("/incidents/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "database" in response.content.decode()
