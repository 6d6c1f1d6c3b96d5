"""Ingest POSTs go straight to their view (common.middleware.MachineEndpointMiddleware), past
the middleware that serves people; everything else, the same URLs' GETs included, still goes
through it. And an API request with a token never touches a session."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.changes.ingest import KEY, pipeline_for, post_json
from tests.teams.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db

VALID = {"component": "payments-service", "description": "Deploy v1.2.3"}


def session_queries(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "django_session" in query["sql"]]


def test_an_ingest_post_from_a_browser_with_a_session_never_loads_it(logged_in_client):
    pipeline_for("alert24")

    with CaptureQueriesContext(connection) as captured:
        response = post_json(logged_in_client, VALID)

    assert response.status_code == 202
    assert session_queries(captured) == []
    assert "Cookie" not in response.get("Vary", "")
    assert response["X-Request-ID"]  # the request id middleware comes before
    assert response["Content-Type"] == "application/json"


def test_an_ingest_post_needs_no_csrf_token_and_still_an_allowed_host(client, settings):
    pipeline_for("alert24")
    browser = Client(enforce_csrf_checks=True)

    assert post_json(browser, VALID).status_code == 202
    settings.ALLOWED_HOSTS = ["whatchanged.example"]
    assert post_json(client, VALID).status_code == 400  # DisallowedHost, as for any request


def test_the_same_url_read_with_a_session_goes_through_it(logged_in_client):
    pipeline_for("alert24")
    post_json(logged_in_client, VALID)

    response = logged_in_client.get("/api/v1/changes")

    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_other_posts_still_get_the_middleware_for_people(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    # A page's form without its CSRF token: refused, as before.
    assert browser.post("/profile/", {"time_zone": "UTC"}).status_code == 403


def test_an_api_request_with_a_token_touches_no_session(client):
    token = "wct_test-token-session-free-0123456789"
    ApiTokenFactory(token=token)

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/changes", headers={"Authorization": f"Token {token}"})

    assert response.status_code == 200
    assert session_queries(captured) == []
    assert "sessionid" not in response.cookies


def test_an_ingest_error_keeps_the_one_json_shape(client):
    pipeline_for("alert24")

    response = client.post(
        "/api/v1/changes",
        json.dumps({"description": "no component"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {KEY}", "Accept": "text/html"},
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"code", "message", "fields"}
