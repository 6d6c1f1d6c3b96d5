"""The OpenAPI schema tags every operation with exactly one area (changes, alerts and incidents,
configuration), and the navigation links its docs page."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

AREAS = ("changes", "alerts and incidents", "configuration")
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(logged_in_client) -> dict:
    response = logged_in_client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict) -> dict[str, list[str]]:
    """{"POST /api/v1/changes": [tags], ...}"""
    return {
        f"{method.upper()} {path}": operation.get("tags", [])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_every_operation_has_exactly_one_area(schema):
    tagged = operations(schema)

    assert len(tagged) > 40
    wrong = {operation: tags for operation, tags in tagged.items() if len(tags) != 1}
    assert wrong == {}
    assert {tags[0] for tags in tagged.values()} == set(AREAS)
    # The docs page lists the areas in this order, each with a line saying what it holds.
    assert [tag["name"] for tag in schema["tags"]] == list(AREAS)
    assert all(tag["description"] for tag in schema["tags"])


@pytest.mark.parametrize(
    ("operation", "area"),
    [
        ("POST /api/v1/changes", "changes"),
        ("GET /api/v1/changes/{id}", "changes"),
        ("POST /api/v1/pipelines/{key}/events", "changes"),  # a producer's changes
        ("POST /v2/change/enqueue", "changes"),
        ("POST /api/v1/alerts", "alerts and incidents"),
        ("POST /api/v1/alert-sources/{key}/alerts", "alerts and incidents"),
        ("GET /api/v1/incidents/{id}", "alerts and incidents"),
        ("POST /v2/enqueue", "alerts and incidents"),
        ("GET /api/v1/teams", "configuration"),
        ("PATCH /api/v1/components/{slug}", "configuration"),
        ("POST /api/v1/pipelines", "configuration"),  # the pipeline itself, not its changes
        ("POST /api/v1/alert-sources/{id}/rotate-secret", "configuration"),
        ("GET /api/v1/audit-log", "configuration"),
    ],
)
def test_operations_sit_in_the_area_their_readers_look_in(schema, operation, area):
    assert operations(schema)[operation] == [area]


def test_the_navigation_links_the_api_docs_which_load_the_schema(logged_in_client):
    page = logged_in_client.get(reverse("incidents:list")).content.decode()
    nav = re.search(r'<nav class="nav"[^>]*>(.*?)</nav>', page, re.S).group(1)
    assert f'<a href="{reverse("api-docs")}">API</a>' in nav

    docs = logged_in_client.get(reverse("api-docs"))
    assert docs.status_code == 200
    # Served from our static files (drf-spectacular-sidecar), with no inline script for the CSP.
    assert "swagger-ui" in docs.content.decode()
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    assert "<script>" not in docs.content.decode()
