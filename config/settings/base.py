"""Settings shared by every environment, read from the environment via django-environ.

With no DATABASE_URL and no REDIS_URL this is the embedded setup: SQLite, Celery on kombu's
filesystem transport under var/, and a local-memory cache. Nothing else needs installing.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from common import logs

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# A dev default only when DEBUG; production.py also refuses weak keys.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (only DEBUG runs get a development key).")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "axes",
    "common",
    "teams",
    "pipelines",
    "changes",
    "incidents",
]

MIDDLEWARE = [
    "common.health.HealthCheckMiddleware",  # first: probes skip host checks and redirects
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.middleware.RequestIdMiddleware",  # after static files: those are not logged
    "common.middleware.MachineEndpointMiddleware",  # ingest POSTs skip the rest from here
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "common.middleware.ViewerTimeZoneMiddleware",
    "common.middleware.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into its page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write at the same time: WAL lets readers go on,
    # IMMEDIATE takes the write lock up front so writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "common.redis_cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Files, not process memory: the web server and the worker share rate-limit counters and
    # correlation requests.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Reverse proxies in front of the web server (client addresses come from X-Forwarded-For).
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)

# Prometheus scrapes /metrics with this as a bearer token; unset, /metrics is off.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Content-Security-Policy: scripts and styles from our own static files only, never inline
# (django-csp). Pages keep their JavaScript in static/js and htmx its settings in a meta tag.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Login brute force: five failures lock that user name from that address for 15 minutes
# (django-axes). Per pair, so an attacker cannot lock an engineer out from everywhere.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXIES

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "changes:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at start-up when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Celery -----------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A message taken by a worker that then died whole comes back after this long (Redis has
    # no acknowledgements of its own). Tasks take seconds; countdowns and retries stay far
    # below it, so nothing running is handed out twice.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 600}
else:
    _queue_dir = VAR_DIR / "celery"
    for _folder in ("queue", "processed"):
        (_queue_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "control_folder": str(_queue_dir / "control"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every task names its queue; tests/test_celery.py checks that none is left to the default.
CELERY_TASK_ROUTES: dict[str, dict[str, str]] = {
    "changes.resolve_change_components": {"queue": "default"},
    "changes.rewrite_change_teams": {"queue": "default"},
    "pipelines.confirm_sns_subscription": {"queue": "default"},
    "incidents.correlate_incident": {"queue": "default"},
    "incidents.correlate_pending_changes": {"queue": "default"},
    "incidents.sweep": {"queue": "default"},
    "incidents.auto_resolve": {"queue": "default"},
    "incidents.apply_retention": {"queue": "default"},
}
# Schedules live in code, so every installation runs them.
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "incidents.sweep", "schedule": 60.0},
    "auto-resolve": {"task": "incidents.auto_resolve", "schedule": 60.0},
    "retention": {"task": "incidents.apply_retention", "schedule": crontab(hour=3, minute=17)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
# A broker that is down must not hang a request: publishing gives up quickly, the row is
# already committed, and the periodic sweep catches up.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}

# --- Ingest -----------------------------------------------------------------------------------
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BODY_BYTES + 1
# Requests per integration key per window; 0 turns the limit off.
INGEST_RATE_LIMIT = env.int("INGEST_RATE_LIMIT", default=600)
INGEST_RATE_WINDOW_SECONDS = env.int("INGEST_RATE_WINDOW_SECONDS", default=60)
# Requests with unknown keys per client address and window, before 429 instead of 401.
INGEST_UNKNOWN_KEY_LIMIT = env.int("INGEST_UNKNOWN_KEY_LIMIT", default=60)


# Retention: how many days of each thing to keep.
RETENTION_DAYS = {
    "changes": env.int("RETENTION_CHANGES_DAYS", default=365),
    "incidents": env.int("RETENTION_INCIDENTS_DAYS", default=365),
    "deliveries": env.int("RETENTION_DELIVERIES_DAYS", default=30),
}

# Folder of SNS signing certificates, named like the last segment of SigningCertURL.
SNS_CERT_DIR = env.str("SNS_CERT_DIR", default="")

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "teams.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "common.api_schema.AreaAutoSchema",  # tagged by area
    "EXCEPTION_HANDLER": "common.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Whatchanged API",
    "DESCRIPTION": "Ingest change events and alerts; read incidents and their suspect changes.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The areas every operation is tagged with (common.api_schema), in the docs page's order.
    "TAGS": [
        {"name": "changes", "description": "Record changes and read the change feed."},
        {
            "name": "alerts and incidents",
            "description": "Send alerts; read and update incidents and their suspect changes.",
        },
        {
            "name": "configuration",
            "description": "Teams, members, components, pipelines, alert sources, the audit log.",
        },
    ],
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "ChangeOutcomeEnum": "changes.models.ChangeEvent.Outcome",
    },
}

# Structured logs (common/logs.py): JSON lines unless LOG_FORMAT=console (DEBUG's default).
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": logs.formatter, "json": LOG_FORMAT == "json"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's own handlers (console in DEBUG, runserver's) would print a second, unredacted
    # copy of its lines: everything goes through the root handler instead.
    "loggers": {name: {"handlers": [], "propagate": True} for name in ("django", "django.server")},
}
logs.configure_structlog()
# Celery's worker keeps the logging configured above instead of replacing the root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
