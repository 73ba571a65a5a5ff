"""Routers as the gateway needs them (id, name, organisation, enabled), from the ROUTER stream."""

from __future__ import annotations

from dataclasses import dataclass

from hyperstrate_contracts import Event
from hyperstrate_contracts.router import RouterCreated, RouterDeleted, RouterUpdated

__all__ = ["RouterDirectory", "RouterEntry"]


@dataclass(slots=True)
class RouterEntry:
    id: str
    org_id: str
    name: str
    enabled: bool
    created: int


class RouterDirectory:
    """Routers by id and by (org, name); a model name may be either."""

    def __init__(self) -> None:
        self._by_id: dict[str, RouterEntry] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._created = 0

    def resolve(self, org_id: str, ref: str) -> RouterEntry | None:
        """The organisation's router named or numbered `ref`."""
        entry = self._by_id.get(ref)
        if entry is None:
            router_id = self._by_name.get((org_id, ref))
            entry = self._by_id.get(router_id) if router_id else None
        return entry if entry is not None and entry.org_id == org_id else None

    def of_org(self, org_id: str) -> list[RouterEntry]:
        """The organisation's routers, oldest first."""
        return sorted(
            (e for e in self._by_id.values() if e.org_id == org_id), key=lambda e: e.created
        )

    def apply(self, event: Event) -> None:
        """Update from one ROUTER event (the others are ignored)."""
        if isinstance(event, RouterCreated):
            self._created += 1
            self._by_id[event.aggregate_id] = RouterEntry(
                event.aggregate_id, event.org_id, event.name, event.enabled, self._created
            )
            self._by_name[(event.org_id, event.name)] = event.aggregate_id
            return
        entry = self._by_id.get(event.aggregate_id)
        if entry is None or entry.org_id != event.org_id:
            return
        if isinstance(event, RouterUpdated):
            self._by_name.pop((entry.org_id, entry.name), None)
            entry.name, entry.enabled = event.name, event.enabled
            self._by_name[(entry.org_id, entry.name)] = entry.id
        elif isinstance(event, RouterDeleted):
            self._by_name.pop((entry.org_id, entry.name), None)
            del self._by_id[entry.id]
