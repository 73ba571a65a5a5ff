"""Which organisation owns a team, a virtual key or a router: their ids, followed from the
AUTH and ROUTER streams into memory (replayed before the service is ready).

A usage question or a webhook naming another organisation's id is then a 404, exactly as
for an id that never existed, without asking the owning service. Teams and virtual keys
stay known once created: their spend is history, still reported after a deletion or a
revocation. A router is forgotten when deleted: a webhook needs a live one.
"""

from __future__ import annotations

import asyncio
import time

from hyperstrate_contracts import Event, EventRegistry
from hyperstrate_contracts.auth import TeamCreated, VirtualKeyCreated
from hyperstrate_contracts.router import RouterCreated, RouterDeleted
from hyperstrate_observability.domain.model import OwnedKind

__all__ = [
    "AUTH_OWNED_EVENTS",
    "AUTH_OWNED_SUBJECT",
    "ROUTER_OWNED_EVENTS",
    "ROUTER_OWNED_SUBJECT",
    "OwnedIds",
]

AUTH_OWNED_SUBJECT = "auth.*.created"
AUTH_OWNED_EVENTS = EventRegistry([TeamCreated, VirtualKeyCreated])
ROUTER_OWNED_SUBJECT = "router.router.>"
ROUTER_OWNED_EVENTS = EventRegistry([RouterCreated, RouterDeleted])


class OwnedIds:
    """An `Ownership` fed by `apply`; an id the organisation does not own is waited for up
    to `grace` seconds, since the owning service's event may still be on its way when its
    creator asks here. Another organisation's id waits as long as one that never existed:
    the answer's timing tells nothing either."""

    def __init__(self, *, grace: float = 1.0) -> None:
        self.grace = grace
        self._owned: set[tuple[str, OwnedKind, str]] = set()
        self._arrived = asyncio.Event()

    def apply(self, event: Event) -> None:
        """Follow one AUTH or ROUTER event."""
        match event:
            case TeamCreated():
                self._learn("team", event)
            case VirtualKeyCreated():
                self._learn("virtual_key", event)
            case RouterCreated():
                self._learn("router", event)
            case RouterDeleted():
                self._owned.discard((event.org_id, "router", event.aggregate_id))

    async def owns(self, org_id: str, kind: OwnedKind, resource_id: str) -> bool:
        """True when `resource_id` is a `kind` of organisation `org_id`."""
        key = (org_id, kind, resource_id)
        deadline = time.monotonic() + self.grace
        while key not in self._owned:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def _learn(self, kind: OwnedKind, event: Event) -> None:
        self._owned.add((event.org_id, kind, event.aggregate_id))
        # Wake every waiter once; the next ones wait on a fresh event.
        self._arrived.set()
        self._arrived = asyncio.Event()
