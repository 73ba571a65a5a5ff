"""Ports of the auth application layer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_auth.domain.throttle import FailureCount

__all__ = ["KnownRouters", "LoginFailures", "PasswordHasher", "TeamUsage"]


class PasswordHasher(Protocol):
    """Hashes and verifies passwords (argon2 in production)."""

    def hash(self, password: str) -> str:
        """A salted hash of `password`."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True when `password` matches; takes the same time for a wrong one."""
        ...

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a verification, for unknown users (no timing oracle)."""
        ...


class TeamUsage(Protocol):
    """What teams spent, as their caps count it (observability keeps the record)."""

    async def spent(
        self, org_id: str, team_ids: Sequence[str]
    ) -> dict[str, tuple[int, float]] | None:
        """Billed requests and cost in USD per team id (a team's caps never reset); None
        when the record cannot be read now."""
        ...


class LoginFailures(Protocol):
    """Failed-login counts by (scope, hashed subject), shared by every replica."""

    async def counts(
        self, session: AsyncSession, subjects: Sequence[tuple[str, str]]
    ) -> list[FailureCount]:
        """The counts of the subjects that have one."""
        ...

    async def locked_count(
        self, session: AsyncSession, scope: str, subject_hash: str, now: datetime
    ) -> FailureCount | None:
        """The subject's count, locked against concurrent updates until the commit."""
        ...

    async def save(
        self, session: AsyncSession, scope: str, subject_hash: str, count: FailureCount
    ) -> None:
        """Store the subject's new count."""
        ...

    async def clear(self, session: AsyncSession, scope: str, subject_hash: str) -> None:
        """Forget the subject's failures."""
        ...


class KnownRouters(Protocol):
    """Which router ids are real, per organisation (the router service's events say)."""

    async def owned(self, org_id: str, router_id: str) -> bool:
        """True when `router_id` is a router of `org_id` (waits briefly for one just made)."""
        ...
