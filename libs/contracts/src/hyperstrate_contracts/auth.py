"""AUTH stream events: organisations, users, teams, API keys, virtual keys, router access.

Key events carry the key's identity and its SHA-256 hash, never the key itself. Password
hashes never leave the auth service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from hyperstrate_contracts.events import Event, EventRegistry

__all__ = [
    "AUTH_EVENTS",
    "KEY_USAGE_SUBJECT",
    "ApiKeyCreated",
    "ApiKeyRevoked",
    "KeyUsageBatch",
    "OrganizationCreated",
    "OrganizationDeleted",
    "OrganizationUpdated",
    "RefreshTokenReused",
    "ResetPeriod",
    "Role",
    "RouterTeamAccessGranted",
    "RouterTeamAccessRevoked",
    "TeamCreated",
    "TeamDeleted",
    "TeamUpdated",
    "UserCreated",
    "UserDeleted",
    "UserUpdated",
    "VirtualKeyCreated",
    "VirtualKeyRevoked",
    "VirtualKeyUpdated",
    "auth_registry",
]

Role = Literal["admin", "member"]
ResetPeriod = Literal["daily", "weekly", "monthly"]


class OrganizationCreated(Event, frozen=True, kw_only=True, tag="auth.organization.created"):
    name: str


class OrganizationUpdated(Event, frozen=True, kw_only=True, tag="auth.organization.updated"):
    name: str


class OrganizationDeleted(Event, frozen=True, kw_only=True, tag="auth.organization.deleted"):
    pass


class UserCreated(Event, frozen=True, kw_only=True, tag="auth.user.created"):
    email: str
    name: str
    role: Role
    team_id: str | None = None


class UserUpdated(Event, frozen=True, kw_only=True, tag="auth.user.updated"):
    name: str
    role: Role
    team_id: str | None = None
    #: A disabled user can neither sign in nor use a session or API key (False in old events).
    disabled: bool = False


class UserDeleted(Event, frozen=True, kw_only=True, tag="auth.user.deleted"):
    pass


class TeamCreated(Event, frozen=True, kw_only=True, tag="auth.team.created"):
    name: str
    max_requests: int | None = None
    max_cost_usd: float | None = None


class TeamUpdated(Event, frozen=True, kw_only=True, tag="auth.team.updated"):
    name: str
    max_requests: int | None = None
    max_cost_usd: float | None = None


class TeamDeleted(Event, frozen=True, kw_only=True, tag="auth.team.deleted"):
    pass


class ApiKeyCreated(Event, frozen=True, kw_only=True, tag="auth.api_key.created"):
    """An API key acting for a user; `router_ids` empty means every router of the org."""

    name: str
    prefix: str
    key_hash: str
    user_id: str
    role: Role
    team_id: str | None = None
    router_ids: tuple[str, ...] = ()
    expires_at: datetime | None = None


class ApiKeyRevoked(Event, frozen=True, kw_only=True, tag="auth.api_key.revoked"):
    key_hash: str


class VirtualKeyCreated(Event, frozen=True, kw_only=True, tag="auth.virtual_key.created"):
    """A virtual key with its own limits; the router's ledger enforces the budget."""

    name: str
    prefix: str
    key_hash: str
    team_id: str | None = None
    max_requests: int | None = None
    max_cost_usd: float | None = None
    reset_period: ResetPeriod | None = None
    rate_limit_rps: float | None = None
    router_ids: tuple[str, ...] = ()
    expires_at: datetime | None = None


class VirtualKeyUpdated(Event, frozen=True, kw_only=True, tag="auth.virtual_key.updated"):
    name: str
    team_id: str | None = None
    max_requests: int | None = None
    max_cost_usd: float | None = None
    reset_period: ResetPeriod | None = None
    rate_limit_rps: float | None = None
    router_ids: tuple[str, ...] = ()
    expires_at: datetime | None = None


class VirtualKeyRevoked(Event, frozen=True, kw_only=True, tag="auth.virtual_key.revoked"):
    key_hash: str


class RouterTeamAccessGranted(Event, frozen=True, kw_only=True, tag="auth.router_access.granted"):
    """`aggregate_id` is the router id; a router with no grants is open to its whole org."""

    team_id: str


class RouterTeamAccessRevoked(Event, frozen=True, kw_only=True, tag="auth.router_access.revoked"):
    team_id: str


class RefreshTokenReused(Event, frozen=True, kw_only=True, tag="auth.session.reuse_detected"):
    """A refresh token already spent by a refresh was presented again: someone holds a copy.

    `aggregate_id` is the session family (every token descending from one login); all of
    its tokens are revoked, so the thief's copy and the owner's newer one both stop working.
    """

    user_id: str
    sessions_ended: int = 0  # live tokens of the family revoked by this detection


class KeyUsageBatch(msgspec.Struct, frozen=True):
    """Core-NATS message (`svc.auth.key_usage`): keys seen since the last batch.

    Sent by whoever authenticates keys (the gateway) so that auth records last-used times
    with one write per batch instead of one per request.
    """

    last_used: dict[str, datetime]  # key hash -> last time seen


AUTH_EVENTS: tuple[type[Event], ...] = (
    OrganizationCreated, OrganizationUpdated, OrganizationDeleted,
    UserCreated, UserUpdated, UserDeleted,
    TeamCreated, TeamUpdated, TeamDeleted,
    ApiKeyCreated, ApiKeyRevoked,
    VirtualKeyCreated, VirtualKeyUpdated, VirtualKeyRevoked,
    RouterTeamAccessGranted, RouterTeamAccessRevoked,
    RefreshTokenReused,
)  # fmt: skip

KEY_USAGE_SUBJECT = "svc.auth.key_usage"


def auth_registry() -> EventRegistry:
    """A registry of every AUTH event."""
    return EventRegistry(AUTH_EVENTS)
