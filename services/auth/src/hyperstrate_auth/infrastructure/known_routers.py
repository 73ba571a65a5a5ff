"""Router ids per organisation, followed from the ROUTER stream (no call to the router
service per request): grants and key scopes may only name the caller's own routers."""

from __future__ import annotations

import asyncio
import time

from hyperstrate_contracts import Event
from hyperstrate_contracts.router import RouterCreated, RouterDeleted

__all__ = ["ROUTER_SUBJECTS", "RouterDirectory"]

#: What the directory follows: a router's birth and death are all it needs.
ROUTER_SUBJECTS = "router.router.>"


class RouterDirectory:
    """Which organisation owns each live router id."""

    def __init__(self, read_your_writes_seconds: float = 0.25) -> None:
        self._owner: dict[str, str] = {}
        self._changed = asyncio.Event()
        # A router made a moment ago may not have reached us yet: an unknown id waits this
        # long for it (its event arrives in milliseconds; an absent id costs the wait, the
        # same for another organisation's id as for one that never existed, so it is short).
        self.read_your_writes_seconds = read_your_writes_seconds

    def apply(self, event: Event) -> None:
        """Update from one ROUTER event (others are ignored)."""
        if isinstance(event, RouterCreated):
            self._owner[event.aggregate_id] = event.org_id
        elif isinstance(event, RouterDeleted) and self._owner.get(event.aggregate_id) == (
            event.org_id
        ):
            del self._owner[event.aggregate_id]
        else:
            return
        self._changed.set()
        self._changed = asyncio.Event()

    def owns(self, org_id: str, router_id: str) -> bool:
        """True when `router_id` is a live router of `org_id`."""
        return self._owner.get(router_id) == org_id

    async def owned(self, org_id: str, router_id: str) -> bool:
        """`owns`, waiting up to `read_your_writes_seconds` for an id not known yet."""
        deadline = time.monotonic() + self.read_your_writes_seconds
        while not self.owns(org_id, router_id):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return False
        return True
