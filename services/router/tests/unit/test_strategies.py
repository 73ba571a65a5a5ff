"""Target selection by strategy."""

from __future__ import annotations

import random
from collections import Counter

from hyperstrate_router.application.inference.state import RouterState, Target
from hyperstrate_router.application.inference.strategies import LatencyTracker, TargetSelector


def _router(strategy: str, *targets: Target) -> RouterState:
    return RouterState(
        id="r", org_id="o", name="r", strategy=strategy, targets={t.id: t for t in targets}
    )


def _firsts(selector: TargetSelector, router: RouterState, draws: int = 4000) -> Counter[str]:
    return Counter(selector.order(router)[0].id for _ in range(draws))


def test_every_strategy_returns_all_live_targets_for_fallback() -> None:
    targets = [Target(id=f"t{i}", registration_id=f"g{i}", priority=i) for i in range(3)]
    disabled = Target(id="off", registration_id="x", enabled=False)
    for strategy in (
        "round_robin",
        "weighted",
        "percentage",
        "failover",
        "random",
        "latency_based",
    ):
        order = TargetSelector(LatencyTracker()).order(_router(strategy, *targets, disabled))
        assert sorted(t.id for t in order) == ["t0", "t1", "t2"], strategy


def test_round_robin_rotates_and_failover_keeps_priority() -> None:
    a, b, c = (
        Target(id=n, registration_id=n, priority=p) for n, p in (("a", 0), ("b", 1), ("c", 2))
    )
    selector = TargetSelector(LatencyTracker())
    assert [selector.order(_router("round_robin", a, b, c))[0].id for _ in range(6)] == list(
        "abcabc"
    )
    assert [t.id for t in selector.order(_router("failover", c, a, b))] == ["a", "b", "c"]


def test_weighted_and_percentage_follow_their_numbers() -> None:
    selector = TargetSelector(LatencyTracker(), random.Random(7))
    heavy, light = (
        Target(id="heavy", registration_id="h", weight=3),
        Target(id="light", registration_id="l", weight=1),
    )
    weighted = _firsts(selector, _router("weighted", heavy, light))
    assert 0.70 < weighted["heavy"] / 4000 < 0.80
    most, rest = (
        Target(id="most", registration_id="m", percentage=90),
        Target(id="rest", registration_id="r", percentage=10),
    )
    split = _firsts(selector, _router("percentage", most, rest))
    assert 0.86 < split["most"] / 4000 < 0.94


def test_latency_based_prefers_the_fast_target_and_reacts_to_a_slowdown() -> None:
    latency = LatencyTracker()
    selector = TargetSelector(latency, random.Random(3))
    fast, slow = Target(id="fast", registration_id="f"), Target(id="slow", registration_id="s")
    router = _router("latency_based", fast, slow)
    for _ in range(5):
        latency.record("fast", 0.05)
        latency.record("slow", 0.50)
    assert _firsts(selector, router)["fast"] / 4000 > 0.9
    for _ in range(10):  # the fast one becomes slow: within a few calls it loses the traffic
        latency.record("fast", 2.0)
    assert _firsts(selector, router)["slow"] / 4000 > 0.9
