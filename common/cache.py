"""Read-through caching of hot lookups (integration keys, the component catalog) that never
makes a request depend on Redis: when the cache is unreachable, the database answers.
"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TypeVar

from django.core.cache import cache, caches
from django.db import connection, transaction
from redis.exceptions import RedisError

from common.redis_cache import RedisCache

logger = logging.getLogger(__name__)

T = TypeVar("T")
_MISSING = object()
# Values a request read ahead, in one round trip with others (read_ahead).
_read_ahead: ContextVar[Mapping[str, Any]] = ContextVar("read_ahead", default=MappingProxyType({}))


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
    ahead = _read_ahead.get()
    if any(key in ahead for key in keys):  # what was read ahead is stale now
        _read_ahead.set({name: value for name, value in ahead.items() if name not in keys})
    try:
        cache.delete_many(keys)
    except (RedisError, OSError):
        logger.warning("cache unreachable: %s left to expire", keys)


def count(key: str, timeout: int) -> int:
    """Increment a counter that expires `timeout` seconds after its first increment. Raises
    RedisError or OSError when the cache is unreachable."""
    backend = caches["default"]  # the backend itself: `cache` is a proxy to it
    if isinstance(backend, RedisCache):
        return backend.count(key, timeout)
    # Other backends (files in development, memory in tests): not atomic across processes.
    backend.add(key, 0, timeout=timeout)
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr: this call opens a new window
        backend.set(key, 1, timeout=timeout)
        return 1


def read_and_count(keys: Sequence[str], counter: str, timeout: int) -> tuple[list[Any], int | None]:
    """The cached values of `keys` (None where unset) and, when the first is set, `counter`
    incremented as `count` does it (else None); in one round trip on Redis. Raises RedisError
    or OSError when the cache is unreachable."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend.read_and_count(keys, counter, timeout)
    values = [backend.get(key) for key in keys]
    return values, (count(counter, timeout) if values[0] is not None else None)


@contextmanager
def read_ahead(values: Mapping[str, Any]) -> Iterator[None]:
    """Within the block, `cached_value` answers these keys from `values`: what the request
    read from the cache already, in one round trip with other keys, is not asked again."""
    token = _read_ahead.set(values)
    try:
        yield
    finally:
        _read_ahead.reset(token)


def cached_value(key: str) -> Any:
    """The cached value of `key` (None when unset), as read ahead in this request if it was.
    Raises RedisError or OSError when the cache is unreachable."""
    values = _read_ahead.get()
    return values[key] if key in values else cache.get(key)
