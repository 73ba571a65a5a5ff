"""The key projection: API keys and virtual keys in memory, for the gateway and the router.

`KeyDirectory` is built from the AUTH stream (replayed at start-up, then followed live by a
`StreamFollower`) and answers `lookup(key_hash)` in microseconds with no I/O. A revoked key,
a key of a deleted or disabled user or of a deleted organisation, and an expired key are not
found. The same projection of users answers `session_user` for session tokens.

`KeyAccess` is the one governance of keys for every route that reaches a provider: the
gateway's hot routes (`admit_router`) and the catalog's direct inference (`admit_direct`)
both ask it, so a key's kind, scope, team access and requests per second are judged by the
same code wherever the key is presented.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

import msgspec

from hyperstrate_contracts import Event
from hyperstrate_contracts.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
    OrganizationDeleted,
    ResetPeriod,
    Role,
    RouterTeamAccessGranted,
    RouterTeamAccessRevoked,
    TeamCreated,
    TeamDeleted,
    TeamUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
    VirtualKeyCreated,
    VirtualKeyRevoked,
    VirtualKeyUpdated,
)
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import identify
from hyperstrate_kit.errors import ForbiddenError, RateLimitedError, UnauthorizedError

__all__ = [
    "DIRECT_INFERENCE_RULE",
    "KEY_TOKEN_PREFIX",
    "KeyAccess",
    "KeyDirectory",
    "KeyIdentity",
    "LiveUser",
    "TeamLimits",
    "credential_of",
    "direct_inference_refusal",
]

# API keys are `hs_…`, virtual keys `hsv_…`; a session token (a JWT) starts with `eyJ`.
KEY_TOKEN_PREFIX = "hs"

DIRECT_INFERENCE_RULE = "direct inference at /ai needs an unscoped API key or an admin session"


class KeyIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """Who a key acts for and within which limits."""

    kind: Literal["api_key", "virtual_key"]
    key_id: str
    org_id: str
    name: str
    role: Role
    user_id: str | None = None
    team_id: str | None = None
    router_ids: tuple[str, ...] = ()  # empty: every router of the organisation
    rate_limit_rps: float | None = None
    max_requests: int | None = None
    max_cost_usd: float | None = None
    reset_period: ResetPeriod | None = None
    expires_at: datetime | None = None

    def allows_router(self, router_id: str) -> bool:
        """True when the key's router scope includes `router_id`."""
        return not self.router_ids or router_id in self.router_ids


class TeamLimits(msgspec.Struct, frozen=True):
    """A team's caps (None: no cap)."""

    max_requests: int | None = None
    max_cost_usd: float | None = None

    @property
    def capped(self) -> bool:
        """True when the team has a request or cost cap."""
        return self.max_requests is not None or self.max_cost_usd is not None


class LiveUser(msgspec.Struct, frozen=True):
    """A user as the AUTH stream last described them."""

    org_id: str
    role: Role
    team_id: str | None
    email: str = ""
    disabled: bool = False


class KeyDirectory:
    """In-memory keys by hash, kept current by applying AUTH events in stream order."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyIdentity] = {}
        self._hash_by_key_id: dict[str, str] = {}
        self._users: dict[str, LiveUser] = {}
        self._deleted_users: set[str] = set()  # ids seen deleted: no wait for them to appear
        self._deleted_orgs: set[str] = set()
        self._teams: dict[str, TeamLimits] = {}
        # (org id, router id) -> teams: an org's grants never touch another org's router.
        self._router_teams: dict[tuple[str, str], set[str]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, key_hash: str, now: datetime | None = None) -> KeyIdentity | None:
        """The identity of a live key, or None (unknown, revoked, expired, owner deleted)."""
        identity = self._keys.get(key_hash)
        if identity is None or identity.org_id in self._deleted_orgs:
            return None
        if identity.expires_at is not None and identity.expires_at <= (now or datetime.now(UTC)):
            return None
        if identity.kind == "api_key" and identity.user_id is not None:
            user = self._users.get(identity.user_id)
            if user is None or user.disabled:
                return None
            if (user.role, user.team_id) != (identity.role, identity.team_id):
                # An API key acts with its user's current role and team.
                return msgspec.structs.replace(identity, role=user.role, team_id=user.team_id)
        return identity

    def session_user(self, org_id: str, user_id: str) -> LiveUser | None:
        """The live user `user_id` of `org_id`, or None (unknown, deleted, of another or a
        deleted organisation). A disabled user is returned: the caller refuses them."""
        user = self._users.get(user_id)
        if user is None or user.org_id != org_id or org_id in self._deleted_orgs:
            return None
        return user

    def ever_knew_user(self, user_id: str) -> bool:
        """True when the stream so far created `user_id` (deleted since, perhaps)."""
        return user_id in self._users or user_id in self._deleted_users

    def team_limits(self, team_id: str | None) -> TeamLimits | None:
        """A team's caps, if the team exists."""
        return self._teams.get(team_id) if team_id else None

    def router_allows_team(self, org_id: str, router_id: str, team_id: str | None) -> bool:
        """Router team access: open when the router has no grants, else only to its teams."""
        teams = self._router_teams.get((org_id, router_id))
        return not teams or (team_id is not None and team_id in teams)

    def apply(self, event: Event) -> None:
        """Update the directory with one AUTH event (others are ignored)."""
        if isinstance(event, ApiKeyCreated | VirtualKeyCreated):
            self._hash_by_key_id[event.aggregate_id] = event.key_hash
        match event:
            case ApiKeyCreated():
                self._keys[event.key_hash] = KeyIdentity(
                    kind="api_key", key_id=event.aggregate_id, org_id=event.org_id,
                    name=event.name, role=event.role, user_id=event.user_id,
                    team_id=event.team_id, router_ids=event.router_ids, expires_at=event.expires_at,
                )  # fmt: skip
            case VirtualKeyCreated():
                self._keys[event.key_hash] = KeyIdentity(
                    kind="virtual_key", key_id=event.aggregate_id, org_id=event.org_id,
                    name=event.name, role="member", team_id=event.team_id,
                    router_ids=event.router_ids, rate_limit_rps=event.rate_limit_rps,
                    max_requests=event.max_requests, max_cost_usd=event.max_cost_usd,
                    reset_period=event.reset_period, expires_at=event.expires_at,
                )  # fmt: skip
            case VirtualKeyUpdated():
                self._update_virtual_key(event)
            case ApiKeyRevoked() | VirtualKeyRevoked():
                self._keys.pop(event.key_hash, None)
            case UserCreated():
                self._users[event.aggregate_id] = LiveUser(
                    event.org_id, event.role, event.team_id, event.email
                )
            case UserUpdated():
                known = self._users.get(event.aggregate_id)
                self._users[event.aggregate_id] = LiveUser(
                    event.org_id, event.role, event.team_id, known.email if known else "",
                    event.disabled,
                )  # fmt: skip
            case UserDeleted():
                self._users.pop(event.aggregate_id, None)
                self._deleted_users.add(event.aggregate_id)
            case TeamCreated() | TeamUpdated():
                self._teams[event.aggregate_id] = TeamLimits(event.max_requests, event.max_cost_usd)
            case TeamDeleted():
                self._teams.pop(event.aggregate_id, None)
            case OrganizationDeleted():
                self._deleted_orgs.add(event.org_id)
            case RouterTeamAccessGranted():
                self._router_teams.setdefault((event.org_id, event.aggregate_id), set()).add(
                    event.team_id
                )
            case RouterTeamAccessRevoked():
                self._router_teams.get((event.org_id, event.aggregate_id), set()).discard(
                    event.team_id
                )

    def _update_virtual_key(self, event: VirtualKeyUpdated) -> None:
        key_hash = self._hash_by_key_id.get(event.aggregate_id, "")
        identity = self._keys.get(key_hash)
        if identity is None or identity.org_id != event.org_id:
            return
        self._keys[key_hash] = msgspec.structs.replace(
            identity, name=event.name, team_id=event.team_id,
            max_requests=event.max_requests, max_cost_usd=event.max_cost_usd,
            reset_period=event.reset_period, rate_limit_rps=event.rate_limit_rps,
            router_ids=event.router_ids, expires_at=event.expires_at,
        )  # fmt: skip


def credential_of(headers: Mapping[str, str]) -> str:
    """The key or token a request carries: `Authorization: Bearer <x>`, else `x-api-key`
    (headers with lower-case names); "" when there is none."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key", "").strip()


def direct_inference_refusal(identity: KeyIdentity, team: TeamLimits | None) -> str | None:
    """Why a key may not run direct inference (a registration called with no router in
    between), or None when it may.

    Scopes, budgets and per-team caps are enforced by routers, so only a key bound by none of
    them may bypass one: an API key of an admin, with no router scope, outside any capped team.
    """
    if identity.kind == "virtual_key":
        return (
            "a virtual key may only call routers, which enforce its budgets; "
            + DIRECT_INFERENCE_RULE
        )
    if identity.router_ids:
        return "this key may only call its routers; " + DIRECT_INFERENCE_RULE
    if identity.role != "admin":
        return "this key acts for a member, who may only call routers; " + DIRECT_INFERENCE_RULE
    if team is not None and team.capped:
        return "this key's team has a cap, which only routers enforce; " + DIRECT_INFERENCE_RULE
    return None


class KeyAccess:
    """Who a key is and where it may go, for every ingress that reaches a provider.

    Raises the kit's errors, so an HTTP service answers them as they are: 401 for an unknown,
    revoked or expired key, 403 with the reason for a key out of its scope, 429 with
    `retry_after` when a key is over its requests per second. All in memory.
    """

    def __init__(self, directory: KeyDirectory) -> None:
        self.directory = directory
        # Key id -> (tokens, last refill): per process, so each replica grants the key's rate.
        self._buckets: dict[str, tuple[float, float]] = {}

    def authenticate(self, key_hash: str, now: datetime | None = None) -> KeyIdentity:
        """The identity of a live key (401 when unknown, revoked or expired)."""
        identity = self.directory.lookup(key_hash, now)
        if identity is None:
            raise UnauthorizedError("invalid, revoked or expired API key")
        identify(Actor(kind="api_key", id=identity.key_id))  # what the request appends, the key did
        return identity

    def admit_router(self, org_id: str, router_id: str, identity: KeyIdentity | None) -> None:
        """May this caller use this router of `org_id`: the key's scope, the router's team
        access and the key's rate (`identity` None: a session, which has no team)."""
        if identity is not None and not identity.allows_router(router_id):
            raise ForbiddenError("this key may not use this router")
        team_id = identity.team_id if identity is not None else None
        if not self.directory.router_allows_team(org_id, router_id, team_id):
            raise ForbiddenError("this router is restricted to other teams")
        if identity is not None and identity.rate_limit_rps:
            self._take_token(identity.key_id, identity.rate_limit_rps)

    def admit_direct(self, identity: KeyIdentity) -> None:
        """May this key run direct inference (403 with the reason), within its rate."""
        refusal = direct_inference_refusal(identity, self.directory.team_limits(identity.team_id))
        if refusal is not None:
            raise ForbiddenError(refusal)
        if identity.rate_limit_rps:
            self._take_token(identity.key_id, identity.rate_limit_rps)

    def _take_token(self, key_id: str, rate: float) -> None:
        now = time.monotonic()
        burst = max(1.0, rate)
        tokens, last = self._buckets.get(key_id, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            raise RateLimitedError(
                "rate limit exceeded for this key", retry_after=(1 - tokens) / rate
            )
        self._buckets[key_id] = (tokens - 1, now)
