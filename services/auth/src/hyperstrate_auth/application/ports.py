"""Ports of the auth application layer."""

from __future__ import annotations

from typing import Protocol

__all__ = ["PasswordHasher"]


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
