"""`health_check`: a circuit breaker per router target, in the router's memory (no I/O).

Three things feed it: real requests' outcomes (passive health), the router's own one-token
chat probes (`probe: "chat"`, see health_probes.py) and observability's catalog-wide verdict
(`RegistrationHealthChanged`, from its list-models probe). After `failureThreshold`
consecutive failures a target is open: selection skips it while another target remains.
`recheckSeconds` after it opened it is half-open: one real request (or a chat probe) goes
through as the check; success closes it, failure opens it again for another `recheckSeconds`.
A registration observability reports down counts as open from the moment of the report, and
is re-checked the same way, so the router's own `recheckSeconds` applies to it too.

Only failures that say something about the target count (5xx, timeouts, connection errors);
a 4xx is the client's request, a 429 is an upstream that answered but is busy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from hyperstrate_providers import ErrorClass
from hyperstrate_router.application.inference.state import Target
from hyperstrate_router.domain.features import HealthCheckConfig

__all__ = ["Outcome", "TargetHealth", "outcome_of"]

_TARGET_FAILURES = frozenset({ErrorClass.SERVER_ERROR, ErrorClass.TIMEOUT, ErrorClass.CONNECTION})


class Outcome(Enum):
    """What one call to a target says about its health."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"  # says nothing either way (the client's bad input, a busy upstream)


def outcome_of(error_class: ErrorClass) -> Outcome:
    """A failed real request: a failure of the target, or the client's own doing."""
    return Outcome.FAILURE if error_class in _TARGET_FAILURES else Outcome.NEUTRAL


@dataclass(slots=True)
class _Breaker:
    registration_id: str
    failures: int = 0
    opened_at: float | None = None  # None: closed
    trial_started: float | None = None  # half-open: when the one check call left
    closed_at: float = -math.inf  # a down report older than the last success is spent
    opened_by_report: bool = False


class TargetHealth:
    """The breakers of every router target that has seen a failure or a down report."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._breakers: dict[tuple[str, str], _Breaker] = {}
        self._reported_down: dict[str, float] = {}  # registration id -> when reported

    def report(self, registration_id: str, healthy: bool) -> None:
        """Observability's verdict on a registration (a `RegistrationHealthChanged`)."""
        if not healthy:
            self._reported_down.setdefault(registration_id, self.clock())
            return
        self._reported_down.pop(registration_id, None)
        for breaker in self._breakers.values():
            if breaker.registration_id == registration_id and breaker.opened_by_report:
                self._close(breaker, self.clock())

    def available(self, router_id: str, target: Target, config: HealthCheckConfig) -> bool:
        """Whether selection may pick the target: closed, or half-open with its check free.
        A check that never reported back (its client left) lapses after `recheckSeconds`."""
        breaker = self._breaker(router_id, target)
        if breaker is None or breaker.opened_at is None:
            return True
        now = self.clock()
        if now - breaker.opened_at < config.recheck_seconds:
            return False
        started = breaker.trial_started
        return started is None or now - started >= config.recheck_seconds

    def admit(self, router_id: str, target: Target, config: HealthCheckConfig) -> bool:
        """Claim a call to the target: any call when closed; when half-open, the one check."""
        if not self.available(router_id, target, config):
            return False
        breaker = self._breaker(router_id, target)
        if breaker is not None and breaker.opened_at is not None:
            breaker.trial_started = self.clock()
        return True

    def record(
        self, router_id: str, target: Target, config: HealthCheckConfig, outcome: Outcome
    ) -> None:
        """Fold one call's outcome in."""
        breaker = self._breaker(router_id, target)
        if outcome is Outcome.SUCCESS:
            if breaker is not None:
                self._close(breaker, self.clock())
            return
        if outcome is Outcome.NEUTRAL:
            if breaker is not None:
                breaker.trial_started = None  # no verdict: the next call is the check
            return
        if breaker is None:
            breaker = self._breakers[(router_id, target.id)] = _Breaker(target.registration_id)
        breaker.failures += 1
        if breaker.opened_at is not None or breaker.failures >= config.failure_threshold:
            breaker.opened_at, breaker.trial_started = self.clock(), None

    def _breaker(self, router_id: str, target: Target) -> _Breaker | None:
        """The target's breaker, with a down report not yet seen by it applied."""
        key = (router_id, target.id)
        breaker = self._breakers.get(key)
        if breaker is not None and breaker.registration_id != target.registration_id:
            breaker = None  # the target now points elsewhere: its history is not this one's
            del self._breakers[key]
        reported = self._reported_down.get(target.registration_id)
        if reported is None:
            return breaker
        if breaker is None:
            breaker = self._breakers[key] = _Breaker(target.registration_id)
        if breaker.opened_at is None and breaker.closed_at < reported:
            breaker.opened_at, breaker.opened_by_report = reported, True
        return breaker

    @staticmethod
    def _close(breaker: _Breaker, now: float) -> None:
        breaker.failures, breaker.opened_at, breaker.trial_started = 0, None, None
        breaker.closed_at, breaker.opened_by_report = now, False
