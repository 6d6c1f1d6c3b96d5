import os

import pytest
from django.core.cache import cache

from tests.teams.factories import UserFactory

# Tests of PostgreSQL-only behaviour run in CI (.ci/run sets DATABASE_URL to the local server).
postgres_only = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL=postgres://… (CI does)",
)


@pytest.fixture
def user(db):
    return UserFactory(username="oncall")


@pytest.fixture
def logged_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters must not leak between tests (ids are reused after a rollback)."""
    cache.clear()
    yield
