"""Target selection: an ordered list of targets to try (the first, then fallbacks).

Every strategy returns all live targets, best first, so retry and fallback need no second
decision: `round_robin` rotates, `weighted` / `percentage` / `random` draw the first by their
rule, `failover` keeps priority order, `latency_based` prefers the fastest recent target.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

from hyperstrate_router.application.inference.state import RouterState, Target

__all__ = ["LatencyTracker", "TargetSelector"]


class LatencyTracker:
    """An exponentially weighted moving average of each target's latency."""

    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self.averages: dict[str, float] = {}

    def record(self, target_id: str, seconds: float) -> None:
        """Fold one observation in (recent calls weigh most: a slow target shows in seconds)."""
        previous = self.averages.get(target_id)
        self.averages[target_id] = (
            seconds if previous is None else (self.alpha * seconds + (1 - self.alpha) * previous)
        )

    def estimate(self, target_id: str) -> float:
        """The current estimate; an unmeasured target counts as fast, so it gets tried."""
        return self.averages.get(target_id, 0.0)


class TargetSelector:
    """Orders a router's live targets by its strategy."""

    def __init__(self, latency: LatencyTracker, rng: random.Random | None = None) -> None:
        self.latency = latency
        self.rng = rng or random.Random()
        self._rotations: dict[str, itertools.count[int]] = {}

    def order(self, router: RouterState) -> list[Target]:
        """All live targets, the one to try first at the front."""
        targets = router.live_targets()
        if len(targets) <= 1:
            return targets
        pick: Callable[[list[Target]], int] = {
            "round_robin": lambda ts: next(self._rotation(router.id)) % len(ts),
            "weighted": lambda ts: self._draw(ts, [max(t.weight, 0) for t in ts]),
            "percentage": lambda ts: self._draw(ts, [max(t.percentage, 0.0) for t in ts]),
            "random": lambda ts: self.rng.randrange(len(ts)),
            "failover": lambda ts: 0,
            "latency_based": self._fastest_index,
        }.get(router.strategy, lambda ts: 0)
        first = pick(targets)
        if router.strategy == "latency_based":
            rest = sorted(
                (t for i, t in enumerate(targets) if i != first),
                key=lambda t: self.latency.estimate(t.id),
            )
        else:
            rest = [t for i, t in enumerate(targets) if i != first]  # priority order
        return [targets[first], *rest]

    def _rotation(self, router_id: str) -> itertools.count[int]:
        return self._rotations.setdefault(router_id, itertools.count())

    def _draw(self, targets: list[Target], weights: list[float]) -> int:
        total = sum(weights)
        if total <= 0:
            return 0
        point = self.rng.random() * total
        for index, weight in enumerate(weights):
            point -= weight
            if point < 0:
                return index
        return len(targets) - 1

    def _fastest_index(self, targets: list[Target]) -> int:
        # Mostly the fastest, sometimes another, so a recovered target is noticed again.
        if self.rng.random() < 0.05:
            return self.rng.randrange(len(targets))
        return min(range(len(targets)), key=lambda i: self.latency.estimate(targets[i].id))
