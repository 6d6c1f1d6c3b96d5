"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django builds a new `redis.Redis` for every cache operation, and redis-py's constructor sets
up its ~170 response callbacks each time: about half a millisecond, several times per ingest
request. A client is thread-safe and only wraps the pool, so one per pool is enough.
"""

from collections.abc import Sequence
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

# KEYS[1] is a counter, the others are read. The counter moves only when KEYS[2] is set (ingest:
# the integration is known), so requests with made-up keys leave no counters behind.
READ_AND_COUNT_SCRIPT = """
local values = redis.call('MGET', unpack(KEYS, 2))
local count = false
if values[1] then
  count = redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
end
return {count, unpack(values)}
"""


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._scripts: dict[int, Any] = {}  # the registered script, per client

    def count(self, key: str, timeout: int) -> int:
        """Increment a counter that expires `timeout` seconds after its first increment, in one
        round trip (Django's add-then-incr takes three)."""
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        with client.pipeline() as pipeline:
            pipeline.incr(key)
            pipeline.expire(key, timeout, nx=True)
            value, _ = pipeline.execute()
        return value

    def read_and_count(
        self, keys: Sequence[str], counter: str, timeout: int
    ) -> tuple[list[Any], int | None]:
        """The values of `keys` (None where unset) and, when the first of them is set, `counter`
        incremented as `count` does it (else None): one round trip for what an ingest request
        reads (a Lua script, so that the increment depends on the first key)."""
        names = [self.make_and_validate_key(key) for key in keys]
        client = self._cache.get_client(write=True)
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(READ_AND_COUNT_SCRIPT)
        count, *raw = script(keys=[self.make_and_validate_key(counter), *names], args=[timeout])
        loads = self._cache._serializer.loads
        return [None if value is None else loads(value) for value in raw], count
