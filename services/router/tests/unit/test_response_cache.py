"""The memory response cache: an LRU per router, bounded by the router's `maxEntries`."""

from __future__ import annotations

from hyperstrate_router.application.inference.cache import CachedAnswer, MemoryResponseCache

ANSWER = CachedAnswer(body=b'{"ok": true}', input_tokens=3, output_tokens=4)


async def _kept(cache: MemoryResponseCache, *keys: str) -> list[bool]:
    return [await cache.get(key) is not None for key in keys]


async def test_a_router_keeps_only_its_last_max_entries_answers() -> None:
    cache = MemoryResponseCache()
    for key in ("q1", "q2", "q3"):
        await cache.put(key, ANSWER, 60, scope="r", max_entries=2)
    assert await _kept(cache, "q1", "q2", "q3") == [False, True, True]


async def test_a_hit_makes_an_answer_the_most_recently_used() -> None:
    cache = MemoryResponseCache()
    await cache.put("q1", ANSWER, 60, scope="r", max_entries=2)
    await cache.put("q2", ANSWER, 60, scope="r", max_entries=2)
    assert await cache.get("q1") == ANSWER
    await cache.put("q3", ANSWER, 60, scope="r", max_entries=2)
    assert await _kept(cache, "q1", "q2", "q3") == [True, False, True]


async def test_one_routers_traffic_never_evicts_anothers_answers() -> None:
    cache = MemoryResponseCache()
    await cache.put("small:q", ANSWER, 60, scope="small", max_entries=1)
    for n in range(50):
        await cache.put(f"busy:{n}", ANSWER, 60, scope="busy", max_entries=10)
    assert await cache.get("small:q") == ANSWER
    assert sum(await _kept(cache, *(f"busy:{n}" for n in range(50)))) == 10


async def test_an_expired_answer_is_a_miss() -> None:
    cache = MemoryResponseCache()
    await cache.put("q", ANSWER, -1, scope="r", max_entries=2)
    assert await cache.get("q") is None
    await cache.put("q", ANSWER, 60, scope="r", max_entries=2)  # stored again after expiry
    assert await cache.get("q") == ANSWER
