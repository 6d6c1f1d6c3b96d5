"""Per-integration rate limit: a fixed-window counter in the cache (Redis in production).

Two cache round trips per request, and every web process shares the count.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

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
        cache.add(key, 0, timeout=window + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: this request opens a new window
            cache.set(key, 1, timeout=window + 1)
            count = 1
    except (RedisError, OSError):
        # Ingest must not depend on Redis: without the counter, let the request through.
        logger.warning("rate limit skipped: the cache is unreachable", exc_info=True)
        return
    if count > limit:
        raise RateLimited(retry_after=max(1, int(window_start + window - now + 0.999)))
