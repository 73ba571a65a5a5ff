"""Registration health: when a run of probe results changes what we report. Pure Python."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HealthState", "ProbeResult", "next_state"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe of a registration: `ok`, or why not."""

    ok: bool
    latency_ms: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class HealthState:
    """What we report about a registration, and the failures in a row behind it."""

    healthy: bool
    consecutive_failures: int
    reason: str = ""


def next_state(
    previous: HealthState | None, result: ProbeResult, failure_threshold: int
) -> tuple[HealthState, bool]:
    """The state after `result`, and whether it is news to publish.

    One success makes a registration healthy again; it turns unhealthy only after
    `failure_threshold` failures in a row, so one lost probe does not flap routing. News is
    a change, or the first verdict on a new registration (a first success; a first failure
    only once it reaches the threshold: until then we know nothing new).
    """
    if result.ok:
        state = HealthState(healthy=True, consecutive_failures=0)
    else:
        failures = (previous.consecutive_failures if previous else 0) + 1
        was_healthy = previous.healthy if previous else True
        state = HealthState(
            healthy=was_healthy and failures < failure_threshold,
            consecutive_failures=failures,
            reason=result.error,
        )
    if previous is None:
        return state, state.healthy == result.ok
    return state, previous.healthy != state.healthy
