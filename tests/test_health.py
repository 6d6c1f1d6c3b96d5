"""/healthz and /readyz: for probes, which come by IP address, over plain HTTP, logged out."""

import pytest

from config.celery import app


@pytest.fixture
def production_like(settings):
    settings.ALLOWED_HOSTS = ["whatchanged.example.com"]
    settings.SECURE_SSL_REDIRECT = True


def test_healthz_answers_without_login_host_or_https(client, production_like):
    response = client.get("/healthz", HTTP_HOST="10.0.3.17:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database_migrations_and_broker(client, production_like):
    response = client.get("/readyz", HTTP_HOST="10.0.3.17:8000")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok", "migrations": "ok"},
    }


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(client):
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    app._pool = None
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = original
        app._pool = None
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "unreachable"


def test_readyz_is_503_when_the_database_is_unreachable(client, database_unreachable):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unreachable"
    assert "migrations" not in response.json()["checks"]
