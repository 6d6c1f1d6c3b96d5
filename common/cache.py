"""Read-through caching of hot lookups (integration keys, the component catalog) that never
makes a request depend on Redis: when the cache is unreachable, the database answers.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import connection, transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")
_MISSING = object()


def read_through(key: str, compute: Callable[[], T], *, timeout: int) -> T:
    """The cached value of `key`, else `compute()`, cached when it is not None.

    Nothing is cached from inside a transaction: it may see rows that a rollback takes back.
    """
    try:
        value = cache.get(key, _MISSING)
    except (RedisError, OSError):
        logger.warning("cache unreachable: reading %s from the database", key)
        return compute()
    if value is not _MISSING:
        return value
    value = compute()
    if value is not None and not connection.in_atomic_block:
        try:
            cache.set(key, value, timeout)
        except (RedisError, OSError):
            logger.warning("cache unreachable: %s not cached", key)
    return value


def forget(*keys: str) -> None:
    """Drop cached values now and again once the current transaction commits, so that a
    reader who cached the old rows in between does not keep them."""
    release(*keys)
    transaction.on_commit(lambda: release(*keys))


def claim(key: str, timeout: int) -> bool:
    """Set `key` for `timeout` seconds unless it is set: True if this call set it (a flag or a
    lock taken). With the cache unreachable, True too: callers then do their work anyway."""
    try:
        return cache.add(key, 1, timeout)
    except (RedisError, OSError):
        logger.warning("cache unreachable: %s taken without it", key)
        return True


def release(*keys: str) -> None:
    """Delete keys; with the cache unreachable they expire by themselves."""
    try:
        cache.delete_many(keys)
    except (RedisError, OSError):
        logger.warning("cache unreachable: %s left to expire", keys)
