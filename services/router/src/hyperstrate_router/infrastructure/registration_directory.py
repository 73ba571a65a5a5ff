"""The catalog's model registrations, known to the router admin API by their owner.

Followed from the CATALOG stream (`catalog.registration.>`, replayed at start-up, then live):
a registration id -> its organisation, nothing more. A miss asks the catalog once over
`svc.catalog.registrations`, which covers the moment between the catalog's commit and its
event reaching this replica; when the catalog does not answer, the stream's word stands.
"""

from __future__ import annotations

import logging

from nats.aio.client import Client as NatsClient

from hyperstrate_contracts import Event
from hyperstrate_contracts.catalog import (
    REGISTRATIONS_SUBJECT,
    RegistrationCreated,
    RegistrationDeleted,
    RegistrationList,
    RegistrationsRequest,
)
from hyperstrate_kit.bus import RemoteError, ServiceUnavailable, request

__all__ = ["REGISTRATION_SUBJECTS", "RegistrationDirectory"]

log = logging.getLogger(__name__)

REGISTRATION_SUBJECTS = "catalog.registration.>"


class RegistrationDirectory:
    """A `RegistrationLookup` over the CATALOG stream; feed it with `apply`."""

    def __init__(self, nc: NatsClient | None = None, *, timeout: float = 2.0) -> None:
        self.nc = nc
        self.timeout = timeout
        self.owners: dict[str, str] = {}  # registration id -> organisation id

    def apply(self, event: Event) -> None:
        """Follow one CATALOG registration event."""
        match event:
            case RegistrationCreated():
                self.owners[event.aggregate_id] = event.org_id
            case RegistrationDeleted():
                self.owners.pop(event.aggregate_id, None)

    async def exists(self, org_id: str, registration_id: str) -> bool:
        """True when `registration_id` is a registration of organisation `org_id`."""
        owner = self.owners.get(registration_id)
        if owner is not None:
            return owner == org_id
        return await self._ask_catalog(org_id, registration_id)

    async def _ask_catalog(self, org_id: str, registration_id: str) -> bool:
        if self.nc is None:
            return False
        try:
            answer = await request(
                self.nc,
                REGISTRATIONS_SUBJECT,
                RegistrationsRequest(org_id=org_id, ids=(registration_id,)),
                RegistrationList,
                timeout=self.timeout,
            )
        except (ServiceUnavailable, RemoteError) as exc:
            log.debug("catalog did not answer for registration %s: %s", registration_id, exc)
            return False
        if any(item.id == registration_id and item.org_id == org_id for item in answer.items):
            self.owners.setdefault(registration_id, org_id)
            return True
        return False
