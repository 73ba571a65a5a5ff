"""The Redis response cache, rate limiter and budget ledger against a real Redis (valkey-server).

"Replicas" are separate clients (separate connection pools) on the same server, as separate
router processes would be. Every test namespaces its keys with a prefix of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from inference_support import inference_stack
from redis.asyncio import Redis

from hyperstrate_kit.embedded import EmbeddedRedis, free_port
from hyperstrate_kit.testing import Infrastructure, unique_name, wait_for
from hyperstrate_router.application.inference.cache import CachedAnswer
from hyperstrate_router.application.inference.limits import (
    BudgetCap,
    BudgetExceeded,
    RateLimiter,
    Reservation,
    period_end,
    period_key,
)
from hyperstrate_router.application.inference.pipeline import InferencePipeline
from hyperstrate_router.application.inference.stages import RateLimitStage
from hyperstrate_router.infrastructure.inference.backends import inference_backends
from hyperstrate_router.infrastructure.inference.redis_backends import (
    BUDGET_KEY_MARGIN,
    RedisBudgetLedger,
    RedisOutage,
    RedisRateLimiter,
    RedisResponseCache,
    connect_redis,
)
from hyperstrate_router.settings import RouterSettings

ANSWER = CachedAnswer(body=b'{"ok":true}', frames=(b"data: 1\n\n", b"data: [DONE]\n\n"),
                      input_tokens=3, output_tokens=5)  # fmt: skip


@pytest_asyncio.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    """Two clients of the session's Redis: two router replicas."""
    first, second = connect_redis(redis_url), connect_redis(redis_url)
    try:
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()


@pytest.fixture
def prefix() -> str:
    return unique_name("test")


# ------------------------------------------------------------------------------ cache


async def test_cache_round_trip_and_expiry(replicas: tuple[Redis, Redis], prefix: str) -> None:
    writer, reader = (
        RedisResponseCache(replicas[0], prefix),
        RedisResponseCache(replicas[1], prefix),
    )
    assert await reader.get("k") is None
    await writer.put("k", ANSWER, ttl_seconds=0.3, scope="r", max_entries=10)
    assert await reader.get("k") == ANSWER  # the other replica sees it
    assert 0 < await replicas[0].pttl(f"{prefix}:cache:k") <= 300

    async def expired() -> bool:
        return await reader.get("k") is None

    await wait_for(expired, timeout=5, message="the cache entry to expire")


async def test_cache_prefixes_keep_namespaces_apart(replicas: tuple[Redis, Redis]) -> None:
    client = replicas[0]
    blue, green = (
        RedisResponseCache(client, "blue-" + unique_name()),
        RedisResponseCache(client, "green-" + unique_name()),
    )
    await blue.put("same-key", ANSWER, ttl_seconds=60, scope="r", max_entries=10)
    assert await blue.get("same-key") == ANSWER
    assert await green.get("same-key") is None
    assert await client.exists(f"{blue.namespace}same-key") == 1
    assert blue.namespace.endswith(":cache:")


async def test_each_router_keeps_at_most_its_max_entries_across_replicas(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    first, second = (RedisResponseCache(client, prefix) for client in replicas)
    for n, cache in enumerate([first, second, first, second]):
        await cache.put(f"a{n}", ANSWER, ttl_seconds=60, scope="router-a", max_entries=2)
    await second.put("b0", ANSWER, ttl_seconds=60, scope="router-b", max_entries=2)
    assert [await first.get(f"a{n}") is not None for n in range(4)] == [False, False, True, True]
    assert await first.get("b0") == ANSWER  # router a's answers never push out router b's
    assert await replicas[0].zcard(f"{first.index_namespace}router-a") == 2


async def test_an_unreadable_cache_entry_is_a_miss(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    cache = RedisResponseCache(replicas[0], prefix)
    await replicas[0].set(f"{cache.namespace}k", b"\xc1 not msgpack", px=60_000)
    assert await cache.get("k") is None


# ------------------------------------------------------------------------------ rate limit


async def test_token_bucket_admits_exactly_the_burst_across_two_replicas(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    limiters = [RedisRateLimiter(client, prefix) for client in replicas]
    burst, rate = 10, 0.01  # no refill worth a token during the test
    waits = await asyncio.gather(
        *(limiters[n % 2].acquire("router:r1", rate, burst) for n in range(200))
    )
    assert sum(1 for wait in waits if wait == 0) == burst
    # The refused are told to come back when a token is there: ~(1 - tokens) / rate.
    assert all(0 < wait <= 1 / rate for wait in waits if wait != 0)
    other = await limiters[1].acquire("router:r2", rate, burst)
    assert other == 0  # buckets are per key


async def test_token_bucket_refills_at_the_rate(replicas: tuple[Redis, Redis], prefix: str) -> None:
    limiter = RedisRateLimiter(replicas[0], prefix)
    assert await limiter.acquire("router:r", 20.0, 1) == 0
    wait = await limiter.acquire("router:r", 20.0, 1)
    assert 0 < wait <= 0.05

    async def admitted() -> bool:
        return await limiter.acquire("router:r", 20.0, 1) == 0

    await wait_for(admitted, timeout=5, message="a token refilled")
    # The bucket is dropped once it would be full again (a missing bucket is a full one).
    assert 0 < await replicas[0].pttl(f"{limiter.namespace}router:r") <= 1100


# ------------------------------------------------------------------------------ budget


async def test_64_concurrent_reserves_on_two_replicas_never_pass_the_cap(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    ledgers = [RedisBudgetLedger(client, prefix) for client in replicas]
    cap = BudgetCap("vk:k1", max_requests=10, max_cost_usd=None, reset_period="monthly")

    async def reserve(ledger: RedisBudgetLedger) -> Reservation | None:
        try:
            return await ledger.reserve([cap], 0.0)
        except BudgetExceeded as exc:
            assert exc.subject == "vk:k1"
            return None

    results = await asyncio.gather(*(reserve(ledgers[n % 2]) for n in range(64)))
    assert sum(1 for r in results if r is not None) == 10
    assert await ledgers[0].used("vk:k1", "monthly") == (10, 0.0)


async def test_a_reservation_is_all_caps_or_none(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    ledger = RedisBudgetLedger(replicas[0], prefix)
    router = BudgetCap("router:r", max_requests=5, max_cost_usd=None, reset_period="daily")
    team = BudgetCap("team:t", max_requests=3, max_cost_usd=None)
    granted = 0
    for _ in range(5):
        try:
            await ledger.reserve([router, team], 0.0)
            granted += 1
        except BudgetExceeded as exc:
            assert exc.subject == "team:t"
    assert granted == 3
    assert await ledger.used("router:r", "daily") == (3, 0.0)  # refusals counted nowhere
    assert await ledger.used("team:t") == (3, 0.0)


async def test_settle_replaces_the_estimate_with_the_real_cost(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    ledgers = [RedisBudgetLedger(client, prefix) for client in replicas]
    cap = BudgetCap("router:r", max_requests=None, max_cost_usd=1.0, reset_period="monthly")
    reservation = await ledgers[0].reserve([cap], 0.5)
    assert await ledgers[1].used("router:r", "monthly") == (1, 0.5)
    await ledgers[1].settle(reservation, 0.000_000_3)  # a cheap call, under a micro-dollar
    assert await ledgers[0].used("router:r", "monthly") == (1, 0.000_000_3)
    second = await ledgers[1].reserve([cap], 0.0)
    await ledgers[0].settle(second, 1.2)
    with pytest.raises(BudgetExceeded):  # 1.2000003 spent of 1.0: the next one is refused
        await ledgers[0].reserve([cap], 0.0)


async def test_release_gives_the_request_and_estimate_back(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    ledger = RedisBudgetLedger(replicas[0], prefix)
    cap = BudgetCap("vk:k", max_requests=1, max_cost_usd=None, reset_period=None)
    reservation = await ledger.reserve([cap], 0.25)
    with pytest.raises(BudgetExceeded):
        await ledger.reserve([cap], 0.0)
    await ledger.release(reservation)
    assert await ledger.used("vk:k") == (0, 0.0)
    await ledger.reserve([cap], 0.0)  # the slot is free again


async def test_budget_keys_are_per_period_and_expire_after_it(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    client = replicas[0]
    ledger = RedisBudgetLedger(client, prefix)
    caps = [
        BudgetCap(f"vk:{period}", max_requests=100, max_cost_usd=None, reset_period=period)
        for period in ("daily", "weekly", "monthly", None)
    ]
    await ledger.reserve(caps, 0.0)
    now = datetime.now(UTC)
    for cap in caps:
        key = f"{prefix}:budget:{cap.subject}:{period_key(cap.reset_period, now)}"
        assert await client.hget(key, "requests") == b"1"
        end = period_end(cap.reset_period, now)
        expires = await client.expiretime(key)
        if end is None:
            assert expires == -1  # the "ever" budget never resets
        else:
            assert expires == int((end + BUDGET_KEY_MARGIN).timestamp())
    # Last period's usage does not count in this one.
    old = datetime(2020, 1, 15, tzinfo=UTC)
    await client.hset(ledger.ledger_key("vk:daily", "daily", old), "requests", 100)
    await ledger.reserve(caps[:1], 0.0)


async def test_settling_into_an_expired_period_leaves_no_key_behind(
    replicas: tuple[Redis, Redis], prefix: str
) -> None:
    client = replicas[0]
    ledger = RedisBudgetLedger(client, prefix)
    cap = BudgetCap("vk:k", max_requests=5, max_cost_usd=None, reset_period="daily")
    reservation = await ledger.reserve([cap], 0.0)
    await client.delete(*(key for key, _ in reservation.entries))  # as if it expired
    await ledger.settle(reservation, 0.3)
    await ledger.release(reservation)
    assert await client.exists(*(key for key, _ in reservation.entries)) == 0


# ------------------------------------------------------------------------------ Redis down


async def test_when_redis_is_unreachable_the_inference_path_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = connect_redis(f"127.0.0.1:{free_port()}")  # nothing listens there
    outage = RedisOutage(retry_after=0.0)  # try Redis on every call, to see every failure
    cache = RedisResponseCache(client, "down", outage)
    limiter = RedisRateLimiter(client, "down", outage)
    ledger = RedisBudgetLedger(client, "down", outage)
    cap = BudgetCap("vk:k", max_requests=0, max_cost_usd=None)  # would refuse everything
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(5):
                assert await cache.get("k") is None  # a miss
                await cache.put("k", ANSWER, 60, scope="r", max_entries=10)  # not kept, no error
                assert await limiter.acquire("router:r", 1.0, 1) == 0  # admitted
                reservation = await ledger.reserve([cap], 0.1)  # fail open: nothing reserved
                assert reservation == Reservation(())
                await ledger.settle(reservation, 0.2)
                await ledger.release(reservation)
    finally:
        await client.aclose()
    assert outage.failures == 20
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # one warning per interval, not one per request


async def test_after_a_failure_redis_is_skipped_for_a_moment_then_tried_again(
    tmp_path: Path,
) -> None:
    server = EmbeddedRedis(tmp_path / "a")
    url = await asyncio.to_thread(server.start)
    client = connect_redis(url)
    outage = RedisOutage(retry_after=0.2)
    limiter = RedisRateLimiter(client, "restart", outage)
    try:
        assert await limiter.acquire("k", 0.01, 1) == 0
        assert await limiter.acquire("k", 0.01, 1) > 0  # limited while Redis is there
        await asyncio.to_thread(server.stop)
        assert await limiter.acquire("k", 0.01, 1) == 0  # fail open
        assert not outage.available()  # skipped for a moment: no timeout per request
        assert await limiter.acquire("k", 0.01, 1) == 0 and outage.failures == 1
        server = EmbeddedRedis(tmp_path / "b", port=server.port)  # back, empty
        await asyncio.to_thread(server.start)

        async def limited_again() -> bool:
            await limiter.acquire("k", 0.01, 1)
            return await limiter.acquire("k", 0.01, 1) > 0

        await wait_for(limited_again, timeout=10, message="limits enforced again")
    finally:
        await client.aclose()
        await asyncio.to_thread(server.stop)


# ------------------------------------------------------------------------------ wiring


async def test_backends_follow_the_settings(redis_url: str) -> None:
    memory = inference_backends(RouterSettings())
    assert memory.redis is None
    both = inference_backends(
        RouterSettings(
            cache_backend="redis", rate_limit_backend="redis", cache_redis_addr=redis_url
        )
    )
    cache_only = inference_backends(
        RouterSettings(
            cache_backend="redis", cache_redis_addr=redis_url.split("//")[1].split("/")[0]
        )
    )
    try:
        assert isinstance(both.cache, RedisResponseCache)
        assert isinstance(both.rate_limiter, RedisRateLimiter)
        assert isinstance(both.ledger, RedisBudgetLedger)  # the budget follows RATE_LIMIT_BACKEND
        assert both.cache.outage is both.ledger.outage  # one client, one view of an outage
        assert isinstance(cache_only.cache, RedisResponseCache)
        assert not isinstance(cache_only.rate_limiter, RedisRateLimiter)
        assert not isinstance(cache_only.ledger, RedisBudgetLedger)
        assert await cache_only.cache.get("nothing") is None  # host:port reaches Redis too
        assert cache_only.cache.outage.failures == 0
    finally:
        await both.aclose()
        await cache_only.aclose()


# ------------------------------------------------------------------------------ end to end


class _CountingLimiter:
    """Passes through to the replica's limiter and counts, to see both replicas served."""

    def __init__(self, inner: RateLimiter) -> None:
        self.inner, self.calls = inner, 0

    async def acquire(self, key: str, rate_per_second: float, burst: float) -> float:
        self.calls += 1
        return await self.inner.acquire(key, rate_per_second, burst)


def _rate_limit_stage(pipeline: InferencePipeline) -> RateLimitStage:
    return next(s for s in pipeline.stages if isinstance(s, RateLimitStage))


async def test_two_router_replicas_share_rate_limit_budget_and_cache(
    infrastructure: Infrastructure, redis_url: str
) -> None:
    redis_environ = {
        "CACHE_BACKEND": "redis",
        "RATE_LIMIT_BACKEND": "redis",
        "CACHE_REDIS_ADDR": redis_url,
        "CACHE_REDIS_PREFIX": unique_name("e2e"),
    }
    async with inference_stack(infrastructure, redis_environ, router_replicas=2) as stack:
        registration = stack.register()
        limited = await stack.router(
            "limited", [registration],
            features={"rate_limit": {"requestsPerSecond": 0.01, "burst": 6}},
        )  # fmt: skip
        capped = await stack.router(
            "capped", [registration], features={"budget": {"maxRequests": 7}}
        )
        cached = await stack.router(
            "cached", [registration], features={"response_cache": {"ttlSeconds": 60}}
        )
        key = await stack.api_key()
        pipelines = stack.pipelines()

        def known() -> bool:
            return all(
                p.routers.get(stack.org_id, router_id) is not None
                for p in pipelines
                for router_id in (limited, capped, cached)
            )

        await wait_for(known, timeout=10, message="both replicas to know the routers")
        stages = [_rate_limit_stage(p) for p in pipelines]
        counters = [_CountingLimiter(stage.limiter) for stage in stages]
        for stage, counter in zip(stages, counters, strict=True):
            stage.limiter = counter
        async with stack.client(key) as client:

            async def ask(model: str, content: str = "x") -> int:
                response = await client.post(
                    "/v1/chat/completions",
                    json={"model": model, "messages": [{"role": "user", "content": content}]},
                )
                return response.status_code

            async def key_known() -> bool:  # by the gateway; cached answers spend nothing
                return await ask("cached", "warm-up") == 200

            await wait_for(key_known, timeout=10, message="the gateway to know the key")
            limited_statuses = await asyncio.gather(*(ask("limited") for _ in range(40)))
            capped_statuses = await asyncio.gather(*(ask("capped") for _ in range(64)))
            first = await client.post(
                "/v1/chat/completions",
                json={"model": "cached", "messages": [{"role": "user", "content": "same"}]},
            )
            again = await asyncio.gather(
                *(
                    client.post(
                        "/v1/chat/completions",
                        json={"model": "cached", "messages": [{"role": "user", "content": "same"}]},
                    )
                    for _ in range(10)
                )
            )
    assert sorted(set(limited_statuses)) == [200, 429]
    assert limited_statuses.count(200) == 6, limited_statuses
    assert all(counter.calls > 0 for counter in counters), "one replica served everything"
    assert capped_statuses.count(200) == 7 and capped_statuses.count(429) == 57
    assert first.status_code == 200
    assert all(response.json() == first.json() for response in again)  # hits on both replicas
