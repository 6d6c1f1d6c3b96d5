"""Rate limits on ingest: per integration, and per address for unknown keys. Fixed-window
counters in the cache (Redis in production), shared by every web process: an integration's
request is counted in the same round trip that finds its key (pipelines.ingest), others in one
round trip of their own.
"""

import logging
import time

from django.conf import settings
from django.http import HttpRequest
from redis.exceptions import RedisError

from common.cache import count
from pipelines.exceptions import RateLimited, TooManyUnknownKeys, UnknownKey
from pipelines.models import Integration

logger = logging.getLogger(__name__)


def rate_counter(model: type[Integration], key_hash: str) -> tuple[str, int]:
    """The cache key counting an integration's requests in the current window, and its timeout.

    By the hash of the integration's key, so that the request's first round trip to the cache
    can count it before the integration is known (a new key starts a new count)."""
    window = settings.INGEST_RATE_WINDOW_SECONDS
    window_start = int(time.time() // window) * window
    return f"ingest-rate:{model._meta.model_name}:{key_hash}:{window_start}", window + 1


def check_rate(integration: Integration, counted: int | None = None) -> None:
    """Count this request against the integration's window, unless `counted` says where the
    count stands already; RateLimited past the limit."""
    limit = settings.INGEST_RATE_LIMIT
    if not limit:
        return
    if counted is None:
        key, timeout = rate_counter(type(integration), integration.key_hash)
        try:
            counted = count(key, timeout)
        except (RedisError, OSError):
            # Ingest must not depend on Redis: without the counter, let the request through.
            logger.warning("rate limit skipped: the cache is unreachable", exc_info=True)
            return
    if counted > limit:
        raise RateLimited(_seconds_left())


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
    window_start = int(time.time() // window) * window
    try:
        counted = count(f"{name}:{window_start}", timeout=window + 1)
    except (RedisError, OSError):
        # Ingest must not depend on Redis: without the counter, let the request through.
        logger.warning("rate limit skipped: the cache is unreachable", exc_info=True)
        return 0
    return _seconds_left() if counted > limit else 0


def _seconds_left() -> int:
    """Seconds until the current window ends, at least 1."""
    window = settings.INGEST_RATE_WINDOW_SECONDS
    now = time.time()
    return max(1, int(int(now // window) * window + window - now + 0.999))
