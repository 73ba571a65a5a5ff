"""Where the registrations to probe come from.

`StaticRegistrations` serves a fixed list (tests, or a deployment that pins what to watch).
The catalog's registrations arrive through `CatalogRegistrations` (see catalog_source.py)
when the catalog contracts are available.
"""

from __future__ import annotations

from collections.abc import Sequence

from hyperstrate_observability.application.ports import ProbeTarget

__all__ = ["StaticRegistrations"]


class StaticRegistrations:
    """A `RegistrationSource` over a list that the caller may change at any time."""

    def __init__(self, targets: Sequence[ProbeTarget] = ()) -> None:
        self.items: list[ProbeTarget] = list(targets)

    async def targets(self) -> Sequence[ProbeTarget]:
        """The current list."""
        return list(self.items)
