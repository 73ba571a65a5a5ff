"""The response cache, rate limiter and budget ledger on Redis, shared by every router replica.

Every decision that must hold across replicas runs as one Lua script on the server (sent once,
then called by its SHA through redis-py's `register_script`), so two replicas never interleave
a read and a write: the token bucket reads Redis' own clock (`TIME`), so the replicas' clocks
do not matter; a budget reservation checks every cap, then counts under every cap, or does
nothing. Costs are kept as integer nano-dollars: a small request on a cheap model costs less
than a micro-dollar, and floats would drift as reservations are settled and released.

Keys, all under the `CACHE_REDIS_PREFIX` namespace:
`cache:<key>` (the msgpack-encoded answer, expiring with its TTL), `cache-index:<router>`
(a sorted set of the router's answer keys by write time, which bounds them by its
`maxEntries`: the oldest written goes first), `ratelimit:<key>` (a hash
of tokens and the last refill, expiring once it would be full again: a missing bucket is a full
one) and `budget:<subject>:<period>` (a hash of requests and cost, expiring a day after its
period ends, so old periods do not pile up; the "ever" period never expires).

Needs one Redis (or a primary with replicas), version 5 or later; not Redis Cluster (a budget
reservation touches the keys of several subjects at once). Size it so it does not evict, or
use `maxmemory-policy volatile-ttl`: cache entries and buckets go before budgets do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from hyperstrate_router.application.inference.cache import CachedAnswer
from hyperstrate_router.application.inference.limits import (
    NANOS_PER_USD,
    BudgetCap,
    BudgetExceeded,
    Reservation,
    nanos,
    period_end,
    period_key,
)

__all__ = [
    "RedisBudgetLedger",
    "RedisOutage",
    "RedisRateLimiter",
    "RedisResponseCache",
    "connect_redis",
    "key_namespace",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# A budget key outlives its period by this much: a call that started before the period ended
# still settles into it, and replicas whose clocks disagree a little still find it.
BUDGET_KEY_MARGIN = timedelta(days=1)


def connect_redis(
    address: str, *, connect_timeout: float = 0.5, command_timeout: float = 1.0
) -> Redis:
    """A client with its own connection pool: make one per process and share it.

    `address` is `host:port` (as `CACHE_REDIS_ADDR`) or a full `redis://` / `rediss://` URL
    (password, database, TLS). Timeouts are short and a failed command is retried once, at
    once (a pooled connection the server closed): this client sits on the inference path,
    where a slow Redis must cost little (see `RedisOutage`).
    """
    url = address if "://" in address else f"redis://{address}"
    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=command_timeout,
        retry=Retry(NoBackoff(), 1),
    )
    return client


def key_namespace(prefix: str) -> str:
    """The prefix of every key: `CACHE_REDIS_PREFIX`, ending in ':' when it is set."""
    return prefix if not prefix or prefix.endswith(":") else f"{prefix}:"


class RedisOutage:
    """What the backends do when Redis fails: never fail the inference.

    A cache error is a miss (or an answer not stored); the rate limiter admits and the budget
    ledger reserves nothing (fail open). Refusing every request because a shared counter is
    unreachable would turn a Redis outage into an outage of every router, while failing open
    only loosens the limits for the outage's duration; the warnings say it is happening.

    One warning per `log_every` seconds at most (with the count of failures since the last
    one), not one per request. After a failure, calls skip Redis for `retry_after` seconds, so
    a Redis that hangs costs one timeout per `retry_after`, not one per request.
    """

    def __init__(
        self,
        *,
        log_every: float = 30.0,
        retry_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_every, self.retry_after, self.clock = log_every, retry_after, clock
        self.failures = 0  # in all, for tests and metrics
        self._unlogged = 0
        self._last_log = -float("inf")
        self._skip_until = -float("inf")
        self._down = False

    def available(self) -> bool:
        """False while calls skip Redis after a failure."""
        return self.clock() >= self._skip_until

    def failed(self, operation: str, error: Exception) -> None:
        """Record a failure; warn when the last warning is old enough."""
        now = self.clock()
        self.failures += 1
        self._unlogged += 1
        self._down = True
        self._skip_until = now + self.retry_after
        if now - self._last_log >= self.log_every:
            log.warning(
                "Redis unavailable (%s: %s); %d failure(s) since the last warning: cache "
                "misses, rate limits and budgets are not enforced (fail open) until it is back",
                operation,
                error,
                self._unlogged,
            )
            self._last_log, self._unlogged = now, 0

    def succeeded(self) -> None:
        """Record a success; say once that Redis is back."""
        if self._down:
            self._down = False
            log.info("Redis reachable again: cache, rate limits and budgets are shared again")

    async def attempt(self, operation: str, call: Callable[[], Awaitable[Any]], fallback: T) -> T:
        """`await call()`, or `fallback` when Redis is skipped or fails."""
        if not self.available():
            return fallback
        try:
            result: T = await call()
        except (RedisError, OSError) as error:
            self.failed(operation, error)
            return fallback
        self.succeeded()
        return result


# KEYS[1]: the answer, KEYS[2]: its router's index. ARGV: the answer, TTL in ms, max entries.
# The answer and its place in the index are written together, and the oldest beyond the
# router's maxEntries go, so replicas writing at once never leave it over its bound.
_CACHE_PUT = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local now = redis.call('TIME')
redis.call('ZADD', KEYS[2], tonumber(now[1]) * 1000000 + tonumber(now[2]), KEYS[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    redis.call('DEL', old)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return excess
"""


class RedisResponseCache:
    """Answers as msgpack under `cache:<key>`, expiring with their TTL (`SET PX`), at most
    the router's `maxEntries` per router (`cache-index:<router>`, oldest written first out;
    an expired answer keeps its place in the index until it is pushed out)."""

    def __init__(self, client: Redis, prefix: str = "", outage: RedisOutage | None = None) -> None:
        self.client, self.namespace = client, f"{key_namespace(prefix)}cache:"
        self.index_namespace = f"{key_namespace(prefix)}cache-index:"
        self.outage = outage or RedisOutage()
        self._decoder = msgspec.msgpack.Decoder(CachedAnswer)
        self._put = client.register_script(_CACHE_PUT)

    async def get(self, key: str) -> CachedAnswer | None:
        """The live answer, or None (also when Redis fails or the entry cannot be read)."""
        raw: bytes | None = await self.outage.attempt(
            "cache get", lambda: self.client.get(self.namespace + key), None
        )
        if raw is None:
            return None
        try:
            return self._decoder.decode(raw)
        except msgspec.DecodeError:  # written by an incompatible version: a miss
            return None

    async def put(
        self, key: str, answer: CachedAnswer, ttl_seconds: float, *, scope: str, max_entries: int
    ) -> None:
        """Keep the answer for `ttl_seconds`, the router's oldest beyond `max_entries` dropped
        (not kept when Redis fails)."""
        encoded = msgspec.msgpack.encode(answer)
        ttl_ms = max(1, round(ttl_seconds * 1000))
        keys = [self.namespace + key, self.index_namespace + scope]
        await self.outage.attempt(
            "cache put", lambda: self._put(keys=keys, args=[encoded, ttl_ms, max_entries]), None
        )


# KEYS[1]: the bucket. ARGV: rate per second, bucket size. Returns the seconds to wait as a
# string ("0" when admitted): a Lua number would come back truncated to an integer.
_TOKEN_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local last = tonumber(state[2])
if tokens == nil or last == nil then
  tokens = burst
  last = now
end
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class RedisRateLimiter:
    """Token buckets on Redis: one bucket per key for every replica, refilled by Redis' clock."""

    def __init__(self, client: Redis, prefix: str = "", outage: RedisOutage | None = None) -> None:
        self.client, self.namespace = client, f"{key_namespace(prefix)}ratelimit:"
        self.outage = outage or RedisOutage()
        self._script = client.register_script(_TOKEN_BUCKET)

    async def acquire(self, key: str, rate_per_second: float, burst: float) -> float:
        """Take one token, or say how long until one is there (0: admitted, also when Redis
        fails: see `RedisOutage`)."""
        wait: bytes | None = await self.outage.attempt(
            "rate limit",
            lambda: self._script(
                keys=[self.namespace + key], args=[repr(rate_per_second), repr(burst)]
            ),
            None,
        )
        return 0.0 if wait is None else float(wait)


# KEYS: one per cap. ARGV[1]: the estimated cost (nano-dollars); then per cap: max requests,
# max cost (nano-dollars), expiry (unix seconds), -1 for none. Returns 0 when reserved, else
# the 1-based number of the first cap that refused (nothing is changed then).
_RESERVE = """
local estimate = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local max_requests = tonumber(ARGV[3 * i - 1])
  local max_cost = tonumber(ARGV[3 * i])
  local used = redis.call('HMGET', key, 'requests', 'cost')
  local requests = tonumber(used[1]) or 0
  local cost = tonumber(used[2]) or 0
  if max_requests >= 0 and requests + 1 > max_requests then
    return i
  end
  if max_cost >= 0 and cost + estimate > max_cost then
    return i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'requests', 1)
  redis.call('HINCRBY', key, 'cost', estimate)
  local expire_at = tonumber(ARGV[3 * i + 1])
  if expire_at >= 0 then
    redis.call('EXPIREAT', key, expire_at)
  end
end
return 0
"""

# KEYS: the reservation's keys. ARGV: per key, the change of requests and of cost. A key that
# expired meanwhile is left alone (recreating it would leave a key without expiry).
_ADJUST = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'requests', ARGV[2 * i - 1])
    redis.call('HINCRBY', key, 'cost', ARGV[2 * i])
  end
end
return 0
"""


class RedisBudgetLedger:
    """Reserve-then-settle spending against caps, atomic across replicas (Lua scripts).

    When Redis fails, `reserve` reserves nothing and lets the call through, and `settle` /
    `release` of a reservation are lost: see `RedisOutage` for why it fails open.
    """

    def __init__(self, client: Redis, prefix: str = "", outage: RedisOutage | None = None) -> None:
        self.client, self.namespace = client, f"{key_namespace(prefix)}budget:"
        self.outage = outage or RedisOutage()
        self._reserve = client.register_script(_RESERVE)
        self._adjust = client.register_script(_ADJUST)

    def ledger_key(
        self, subject: str, reset_period: str | None, now: datetime | None = None
    ) -> str:
        """The key of a subject's usage in the period `now` falls in."""
        return f"{self.namespace}{subject}:{period_key(reset_period, now)}"

    async def reserve(
        self, caps: list[BudgetCap], estimated_cost: float, request_id: str = ""
    ) -> Reservation:
        """One request and its estimate under every cap, all or none (BudgetExceeded)."""
        now = datetime.now(UTC)
        keys, args = [], [nanos(estimated_cost)]
        for cap in caps:
            keys.append(self.ledger_key(cap.subject, cap.reset_period, now))
            end = period_end(cap.reset_period, now)
            args += [
                -1 if cap.max_requests is None else cap.max_requests,
                -1 if cap.max_cost_usd is None else nanos(cap.max_cost_usd),
                -1 if end is None else int((end + BUDGET_KEY_MARGIN).timestamp()),
            ]
        refused: int | None = await self.outage.attempt(
            "budget reserve", lambda: self._reserve(keys=keys, args=args), None
        )
        if refused is None:  # Redis failed: nothing reserved, nothing to settle
            return Reservation(())
        if refused:
            raise BudgetExceeded(caps[int(refused) - 1].subject)
        return Reservation(tuple((key, estimated_cost) for key in keys))

    async def settle(self, reservation: Reservation, actual_cost: float) -> None:
        """Replace the estimate with the real cost (the request stays counted)."""
        changes = [(0, nanos(actual_cost) - nanos(reserved)) for _, reserved in reservation.entries]
        await self._apply("budget settle", reservation, changes)

    async def release(self, reservation: Reservation) -> None:
        """Give the request and its estimate back."""
        changes = [(-1, -nanos(reserved)) for _, reserved in reservation.entries]
        await self._apply("budget release", reservation, changes)

    async def _apply(
        self, operation: str, reservation: Reservation, changes: list[tuple[int, int]]
    ) -> None:
        if not reservation.entries or not any(r or c for r, c in changes):
            return
        keys = [key for key, _ in reservation.entries]
        args = [value for change in changes for value in change]
        await self.outage.attempt(operation, lambda: self._adjust(keys=keys, args=args), None)

    async def used(self, subject: str, reset_period: str | None = None) -> tuple[int, float]:
        """Requests and cost used in the current period (for tests and reporting)."""
        requests, cost = await self.client.hmget(
            self.ledger_key(subject, reset_period), ["requests", "cost"]
        )
        return int(requests or 0), int(cost or 0) / NANOS_PER_USD
