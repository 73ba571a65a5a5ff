"""Ports the router admin use cases need; infrastructure implements them."""

from __future__ import annotations

from typing import Protocol

__all__ = ["RegistrationLookup"]


class RegistrationLookup(Protocol):
    """Which model registrations exist, and whose they are (the catalog owns them)."""

    async def exists(self, org_id: str, registration_id: str) -> bool:
        """True when `registration_id` is a registration of organisation `org_id`."""
        ...
