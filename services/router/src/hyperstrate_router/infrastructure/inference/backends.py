"""The rate limiter, budget ledger and response cache of the hot path, chosen by settings."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from hyperstrate_router.application.inference.cache import MemoryResponseCache, ResponseCache
from hyperstrate_router.application.inference.limits import (
    BudgetLedger,
    MemoryBudgetLedger,
    MemoryRateLimiter,
    RateLimiter,
)
from hyperstrate_router.infrastructure.inference.redis_backends import (
    RedisBudgetLedger,
    RedisOutage,
    RedisRateLimiter,
    RedisResponseCache,
    connect_redis,
)
from hyperstrate_router.settings import RouterSettings

__all__ = ["InferenceBackends", "inference_backends"]


@dataclass(frozen=True)
class InferenceBackends:
    """The three shared-state ports, and the Redis client they use (if any) to close."""

    rate_limiter: RateLimiter
    ledger: BudgetLedger
    cache: ResponseCache
    redis: Redis | None = None

    async def aclose(self) -> None:
        """Close the Redis connection pool (after the worker has drained)."""
        if self.redis is not None:
            await self.redis.aclose()


def inference_backends(settings: RouterSettings) -> InferenceBackends:
    """Memory (exact for one replica) unless a backend is `redis`.

    `CACHE_BACKEND` picks the response cache. `RATE_LIMIT_BACKEND` picks the rate limiter
    and the budget ledger too: both are counters that must agree across replicas, and a budget
    shared by some replicas and not others would be no cap at all. Both Redis-backed sets use
    one client (one connection pool per process) at `CACHE_REDIS_ADDR`, under
    `CACHE_REDIS_PREFIX`, and share what they know of an outage.
    """
    redis_cache = settings.cache_backend == "redis"
    redis_limits = settings.rate_limit_backend == "redis"
    if not (redis_cache or redis_limits):
        return InferenceBackends(MemoryRateLimiter(), MemoryBudgetLedger(), MemoryResponseCache())
    client = connect_redis(settings.cache_redis_addr)
    prefix, outage = settings.cache_redis_prefix, RedisOutage()
    return InferenceBackends(
        rate_limiter=(
            RedisRateLimiter(client, prefix, outage) if redis_limits else MemoryRateLimiter()
        ),
        ledger=RedisBudgetLedger(client, prefix, outage) if redis_limits else MemoryBudgetLedger(),
        cache=RedisResponseCache(client, prefix, outage) if redis_cache else MemoryResponseCache(),
        redis=client,
    )
