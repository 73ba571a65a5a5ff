"""Login throttling decisions: pure functions over a failure count, no I/O.

A subject (an account's e-mail, or a client address) has a few free failures; each further
failure blocks the subject for a delay that doubles (capped), and the failure that reaches
the lock threshold blocks it for the lock duration. A quiet period as long as the lock
forgets the failures. A success clears an account's count (never an address's: one good
password must not buy an address more guesses at other accounts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["FailureCount", "ThrottlePolicy", "after_failure", "retry_after_seconds"]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """When failures start to cost, how much, and when they lock."""

    free_failures: int
    lock_after_failures: int
    backoff_seconds: float
    backoff_max_seconds: float
    lock_seconds: float

    def delay_after(self, failures: int) -> float:
        """How long `failures` failures in a row block the subject (0: not at all)."""
        if failures >= self.lock_after_failures:
            return self.lock_seconds
        if failures <= self.free_failures:
            return 0.0
        doublings = failures - self.free_failures - 1
        return min(self.backoff_max_seconds, self.backoff_seconds * 2.0 ** min(doublings, 64))


@dataclass(frozen=True, slots=True)
class FailureCount:
    """A subject's recent failures."""

    failures: int
    last_failure_at: datetime
    blocked_until: datetime | None


def after_failure(
    previous: FailureCount | None, now: datetime, policy: ThrottlePolicy
) -> FailureCount:
    """The count once one more failure happened at `now`."""
    forgotten = previous is None or now - previous.last_failure_at >= timedelta(
        seconds=policy.lock_seconds
    )
    failures = 1 if forgotten or previous is None else previous.failures + 1
    delay = policy.delay_after(failures)
    return FailureCount(
        failures=failures,
        last_failure_at=now,
        blocked_until=now + timedelta(seconds=delay) if delay else None,
    )


def retry_after_seconds(count: FailureCount | None, now: datetime) -> float:
    """Seconds until the subject may try again (0: now)."""
    if count is None or count.blocked_until is None:
        return 0.0
    return max(0.0, (count.blocked_until - now).total_seconds())
