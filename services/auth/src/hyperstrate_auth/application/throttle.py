"""Login throttling: per account and per client address, counted in a shared store."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from hyperstrate_auth.application.ports import LoginFailures
from hyperstrate_auth.domain.model import LoginThrottled
from hyperstrate_auth.domain.throttle import ThrottlePolicy, after_failure, retry_after_seconds
from hyperstrate_kit.database import Database
from hyperstrate_kit.security import hash_key

__all__ = ["LoginThrottle"]

ACCOUNT = "account"
ADDRESS = "address"


def _now() -> datetime:
    return datetime.now(UTC)


class LoginThrottle:
    """Refuses a login (429 with Retry-After) while its account or its address is blocked.

    Counts are keyed by the e-mail as typed (normalised), whether an account has it or not,
    so an unknown e-mail is throttled exactly as a known one. Subjects are stored hashed.
    """

    def __init__(
        self,
        database: Database,
        store: LoginFailures,
        account: ThrottlePolicy,
        address: ThrottlePolicy,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.database = database
        self.store = store
        self.policies = {ACCOUNT: account, ADDRESS: address}
        self.clock = clock

    @staticmethod
    def _subjects(email: str, address: str) -> list[tuple[str, str]]:
        subjects = [(ACCOUNT, hash_key(email))]
        if address:
            subjects.append((ADDRESS, hash_key(address)))
        return subjects

    async def check(self, email: str, address: str) -> None:
        """Raise `LoginThrottled` while the account or the address must wait."""
        now = self.clock()
        async with self.database.sessions() as session:
            counts = await self.store.counts(session, self._subjects(email, address))
        wait = max((retry_after_seconds(count, now) for count in counts), default=0.0)
        if wait > 0:
            raise LoginThrottled(retry_after=math.ceil(wait))

    async def failed(self, email: str, address: str) -> None:
        """Count one failed login against the account and the address."""
        now = self.clock()
        async with self.database.transaction() as session:
            for scope, subject in self._subjects(email, address):
                previous = await self.store.locked_count(session, scope, subject, now)
                updated = after_failure(previous, now, self.policies[scope])
                await self.store.save(session, scope, subject, updated)

    async def succeeded(self, email: str) -> None:
        """A right password clears the account's failures (the address keeps its own)."""
        async with self.database.transaction() as session:
            await self.store.clear(session, ACCOUNT, hash_key(email))
