"""The catalog's registrations, as a `RegistrationSource`.

Registrations are followed from the CATALOG stream into memory (replayed at start-up);
their credentials are asked of the catalog over request/reply (`svc.catalog.credentials`)
and cached until an event says they changed or the registration went away. Secrets never
travel in events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient

from hyperstrate_contracts import Event
from hyperstrate_contracts.catalog import (
    CREDENTIALS_SUBJECT,
    Credentials,
    CredentialsRequest,
    RegistrationCreated,
    RegistrationDeleted,
    RegistrationUpdated,
)
from hyperstrate_kit.bus import RemoteError, ServiceUnavailable, request
from hyperstrate_observability.application.ports import ProbeTarget
from hyperstrate_providers import ProviderConfig, ProviderKind

__all__ = ["REGISTRATION_EVENTS", "REGISTRATION_SUBJECTS", "CatalogRegistrations"]

log = logging.getLogger(__name__)

REGISTRATION_EVENTS: tuple[type[Event], ...] = (
    RegistrationCreated,
    RegistrationUpdated,
    RegistrationDeleted,
)
REGISTRATION_SUBJECTS = "catalog.registration.>"


@dataclass(slots=True)
class _Registration:
    org_id: str
    provider: str
    model: str


class CatalogRegistrations:
    """Feed `apply` with the CATALOG registration events; ask `targets()` each round."""

    def __init__(self, nc: NatsClient, *, timeout: float = 5.0) -> None:
        self.nc = nc
        self.timeout = timeout
        self.registrations: dict[str, _Registration] = {}
        self._credentials: dict[str, Credentials] = {}

    def apply(self, event: Event) -> None:
        """Keep the in-memory list up to date."""
        match event:
            case RegistrationCreated():
                self.registrations[event.aggregate_id] = _Registration(
                    event.org_id, event.provider, event.model
                )
                self._credentials.pop(event.aggregate_id, None)
            case RegistrationUpdated():
                known = self.registrations.get(event.aggregate_id)
                if known is not None:
                    known.model = event.model
                if event.credentials_changed or known is None:
                    self._credentials.pop(event.aggregate_id, None)
            case RegistrationDeleted():
                self.registrations.pop(event.aggregate_id, None)
                self._credentials.pop(event.aggregate_id, None)

    async def targets(self) -> Sequence[ProbeTarget]:
        """Every registration, with its credentials when the catalog gives them."""
        targets: list[ProbeTarget] = []
        for registration_id, registration in list(self.registrations.items()):
            config = await self._config(registration_id, registration)
            targets.append(
                ProbeTarget(
                    registration_id=registration_id,
                    org_id=registration.org_id,
                    provider=registration.provider,
                    model=registration.model,
                    config=config,
                )
            )
        return targets

    async def _config(
        self, registration_id: str, registration: _Registration
    ) -> ProviderConfig | None:
        credentials = self._credentials.get(registration_id)
        if credentials is None:
            try:
                credentials = await request(
                    self.nc,
                    CREDENTIALS_SUBJECT,
                    CredentialsRequest(org_id=registration.org_id, registration_id=registration_id),
                    Credentials,
                    timeout=self.timeout,
                )
            except (ServiceUnavailable, RemoteError) as exc:
                log.warning("no credentials for registration %s: %s", registration_id, exc)
                return None
            self._credentials[registration_id] = credentials
        try:
            kind = ProviderKind(credentials.provider)
        except ValueError:
            log.warning(
                "registration %s has an unknown provider %r", registration_id, credentials.provider
            )
            return None
        return ProviderConfig(
            kind=kind,
            model=credentials.model,
            api_key=credentials.api_key,
            base_url=credentials.base_url,
        )
