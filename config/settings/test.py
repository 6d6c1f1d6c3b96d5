"""Tests: the same settings as production minus the slow parts."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Unit tests run tasks eagerly; tests that need a real worker start one and turn this off.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# High enough that no test trips it by accident; the rate-limit tests lower it.
INGEST_RATE_LIMIT = 100_000
# Each test process gets its own cache, cleared between tests (tests/conftest.py); Redis
# stays the broker of the real-worker tests.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if not REDIS_URL:
    # The real-worker tests must not consume a `make run` worker's queue (or feed it).
    _queue = VAR_DIR / "test-celery"
    (_queue / "queue").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "queue"),
        "data_folder_out": str(_queue / "queue"),
        "control_folder": str(_queue / "control"),
        "store_processed": False,
    }
