"""Settings fall back to the embedded setup and refuse an unsafe production start.

Each case imports the settings in a fresh interpreter with a controlled environment.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRINT_SETTINGS = """
import json
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
    "time_zone": settings.TIME_ZONE,
    "public_url": settings.PUBLIC_URL,
    "hosts": settings.ALLOWED_HOSTS,
    "cookies": {
        "session_secure": settings.SESSION_COOKIE_SECURE,
        "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
        "csrf_secure": settings.CSRF_COOKIE_SECURE,
        "csrf_httponly": settings.CSRF_COOKIE_HTTPONLY,
    },
    "hsts": settings.SECURE_HSTS_SECONDS,
}))
"""


def run_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "PUBLIC_URL"}
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PRINT_SETTINGS],
        env={**clean, "DJANGO_SETTINGS_MODULE": module, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_embedded_default_needs_nothing_installed():
    result = run_settings("config.settings.local")
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["engine"] == "django.db.backends.sqlite3"
    assert settings["broker"].startswith("filesystem://")
    assert settings["cache"].endswith("FileBasedCache")  # shared by the web server and worker
    assert settings["time_zone"] == "UTC"
    assert settings["public_url"] == "http://127.0.0.1:8000"


def test_production_shape_from_the_environment():
    result = run_settings(
        "config.settings.production",
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://app@db.internal:5432/whatchanged",
        REDIS_URL="redis://cache.internal:6379/1",
        ALLOWED_HOSTS="whatchanged.example.com",
        PUBLIC_URL="https://whatchanged.example.com/",
    )
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)
    assert settings["engine"] == "django.db.backends.postgresql"
    assert settings["broker"] == "redis://cache.internal:6379/1"
    assert settings["cache"].endswith("RedisCache")
    assert settings["debug"] is False
    assert settings["hosts"] == ["whatchanged.example.com"]
    assert settings["public_url"] == "https://whatchanged.example.com"
    assert set(settings["cookies"].values()) == {True}  # secure and out of JavaScript's reach
    assert settings["hsts"] >= 31536000


def test_the_deployment_checklist_is_clean_with_production_settings():
    ignored = {"DEBUG", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the browser tests set it
    clean = {k: v for k, v in os.environ.items() if k not in ignored}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "k3y-" + "x9Q" * 20,
            "ALLOWED_HOSTS": "whatchanged.example.com",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("secret", [None, "", "short", "dev-only-insecure-key" + "x" * 40])
def test_production_refuses_to_start_without_a_real_secret_key(secret):
    env = {} if secret is None else {"SECRET_KEY": secret}
    result = run_settings("config.settings.production", **env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_no_dev_secret_key_without_debug():
    result = run_settings("config.settings.base")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
