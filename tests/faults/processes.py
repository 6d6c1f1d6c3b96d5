"""What the fault tests' subprocesses (a Celery worker, gunicorn) share: the production
settings, on the database of the test that starts them."""

import os
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a subprocess running config.settings.production on this test's
    database, over plain HTTP on loopback."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "fault-test-only-" + "k" * 40,
        "DATABASE_URL": database_url(),
        "HTTPS": "false",
        **overrides,
    }
