"""Ports of the observability application layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hyperstrate_observability.domain.health import ProbeResult
from hyperstrate_observability.domain.model import OwnedKind
from hyperstrate_providers import ProviderConfig

__all__ = ["HealthProbe", "Ownership", "ProbeTarget", "RegistrationSource", "UrlCheck"]


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """A registration to probe and how to reach its provider (`config` holds its key).

    `config` is None when the registration exists but cannot be probed right now (its
    credentials are out of reach): it is skipped this round, and keeps its last status.
    """

    registration_id: str
    org_id: str
    provider: str
    model: str
    config: ProviderConfig | None = field(default=None, repr=False)


class RegistrationSource(Protocol):
    """The model registrations to watch (the catalog's, in production)."""

    async def targets(self) -> Sequence[ProbeTarget]:
        """Every registration to probe now, with its credentials."""
        ...


class HealthProbe(Protocol):
    """Asks a provider whether a registration works."""

    async def check(self, target: ProbeTarget) -> ProbeResult:
        """Probe once; never raises (a failure is a result)."""
        ...


class UrlCheck(Protocol):
    """Refuses user-given URLs that point at internal addresses (SSRF)."""

    def check_literal(self, url: str) -> None:
        """Raise `UnsafeUrlError` (with a `reason`) for a URL that may not be called."""
        ...


class Ownership(Protocol):
    """Which organisation a team, virtual key or router of another service belongs to."""

    async def owns(self, org_id: str, kind: OwnedKind, resource_id: str) -> bool:
        """True when `resource_id` is a `kind` of organisation `org_id`."""
        ...
