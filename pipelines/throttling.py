"""Rate limits on ingest: per integration, and per address for unknown keys. Fixed-window
counters in the cache (Redis in production): one round trip per count, shared by every web
process.
"""

import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from redis.exceptions import RedisError

from common.redis_cache import RedisCache
from pipelines.exceptions import RateLimited, TooManyUnknownKeys, UnknownKey
from pipelines.models import Integration

logger = logging.getLogger(__name__)


def check_rate(integration: Integration) -> None:
    """Count this request against the integration's window; RateLimited past the limit."""
    retry_after = _over_limit(
        f"ingest-rate:{integration._meta.model_name}:{integration.pk}",
        settings.INGEST_RATE_LIMIT,
    )
    if retry_after:
        raise RateLimited(retry_after)


def unknown_key_refusal(request: HttpRequest) -> UnknownKey | TooManyUnknownKeys:
    """The answer to a request with an unknown key: counted against its address, which past
    INGEST_UNKNOWN_KEY_LIMIT a window gets 429 instead of 401."""
    retry_after = _over_limit(
        f"ingest-unknown-key:{client_address(request)}", settings.INGEST_UNKNOWN_KEY_LIMIT
    )
    return TooManyUnknownKeys(retry_after) if retry_after else UnknownKey()


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXIES proxies the entry of
    X-Forwarded-For that the outermost trusted one added (entries before it can be forged)."""
    proxies = settings.TRUSTED_PROXIES
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        return forwarded[-proxies][:100]
    return request.META.get("REMOTE_ADDR", "")


def _over_limit(name: str, limit: int) -> int:
    """Count a request in the current fixed window of `name`; past `limit`, the seconds until
    the window ends, else 0. Without a limit, or without the cache, nothing is refused."""
    if not limit:
        return 0
    window = settings.INGEST_RATE_WINDOW_SECONDS
    now = time.time()
    window_start = int(now // window) * window
    try:
        count = _count(f"{name}:{window_start}", timeout=window + 1)
    except (RedisError, OSError):
        # Ingest must not depend on Redis: without the counter, let the request through.
        logger.warning("rate limit skipped: the cache is unreachable", exc_info=True)
        return 0
    return max(1, int(window_start + window - now + 0.999)) if count > limit else 0


def _count(key: str, timeout: int) -> int:
    backend = caches["default"]  # the backend itself: `cache` is a proxy to it
    if isinstance(backend, RedisCache):
        return backend.count(key, timeout)
    # Other backends (files in development, memory in tests): not atomic across processes.
    backend.add(key, 0, timeout=timeout)
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr: this request opens a new window
        backend.set(key, 1, timeout=timeout)
        return 1
