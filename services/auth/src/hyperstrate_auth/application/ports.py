"""Ports of the auth application layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["PasswordHasher", "TeamUsage"]


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
