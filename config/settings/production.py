"""Production: only tightens the base settings. Refuses to start without a real secret key."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, SECRET_KEY, env

if len(SECRET_KEY) < 32 or SECRET_KEY.startswith("dev-only"):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random string of at least 32 characters in production."
    )

DEBUG = False
# Behind a TLS-terminating proxy by default. HTTPS=false is for `make serve` on localhost only.
HTTPS = env.bool("HTTPS", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
if REDIS_URL:  # every page and live poll reads the session: from Redis, kept in the database too
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = True  # pages send the token from the template (base.html), not the cookie
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
