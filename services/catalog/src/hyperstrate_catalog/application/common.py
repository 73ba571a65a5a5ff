"""What every catalog use case shares: the caller, PATCH merging, the retry of appends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from hyperstrate_contracts.catalog import Owner
from hyperstrate_kit.sessions import Principal

__all__ = ["Caller", "merge"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who runs an inference: a session's user, or an API key acting for its user."""

    org_id: str
    user_id: str | None = None
    api_key_id: str | None = None
    team_id: str | None = None
    key_kind: Literal["api_key", "virtual_key"] = "api_key"
    #: An admin's session sees every job and conversation of the organisation.
    admin_session: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        """A session's caller."""
        return cls(
            org_id=principal.org_id,
            user_id=principal.user_id or None,
            admin_session=principal.is_admin,
        )

    @property
    def actor(self) -> str:
        """The id to record as who did it."""
        return self.api_key_id or self.user_id or ""

    @property
    def owner(self) -> Owner:
        """The principal what this caller creates belongs to: the key, else the user."""
        if self.api_key_id:
            return Owner(kind=self.key_kind, id=self.api_key_id)
        return Owner(kind="user", id=self.user_id or "")

    @property
    def visible_owner(self) -> Owner | None:
        """Whose jobs and conversations this caller may see: None for all of them (an admin
        session), else its own only (rows without an owner are then never visible)."""
        return None if self.admin_session else self.owner


def merge(current: dict[str, Any], changes: msgspec.Struct) -> dict[str, Any]:
    """`current` with the fields a PATCH body set (UNSET fields keep their value)."""
    merged = dict(current)
    for field in changes.__struct_fields__:
        value = getattr(changes, field)
        if value is not msgspec.UNSET:
            merged[field] = value
    return merged
