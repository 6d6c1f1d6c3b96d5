"""Per-integration rate limit: a fixed-window counter in the cache (Redis in production).

One cache round trip per request, and every web process shares the count.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache, caches
from redis.exceptions import RedisError

from common.redis_cache import RedisCache
from pipelines.exceptions import RateLimited
from pipelines.models import Integration

logger = logging.getLogger(__name__)


def check_rate(integration: Integration) -> None:
    """Count this request against the integration's window; RateLimited past the limit."""
    limit, window = settings.INGEST_RATE_LIMIT, settings.INGEST_RATE_WINDOW_SECONDS
    if not limit:
        return
    now = time.time()
    window_start = int(now // window) * window
    key = f"ingest-rate:{integration._meta.model_name}:{integration.pk}:{window_start}"
    try:
        count = _count(key, timeout=window + 1)
    except (RedisError, OSError):
        # Ingest must not depend on Redis: without the counter, let the request through.
        logger.warning("rate limit skipped: the cache is unreachable", exc_info=True)
        return
    if count > limit:
        raise RateLimited(retry_after=max(1, int(window_start + window - now + 0.999)))


def _count(key: str, timeout: int) -> int:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend.count(key, timeout)
    # Other backends (files in development, memory in tests): not atomic across processes.
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens a new window
        cache.set(key, 1, timeout=timeout)
        return 1
