"""InferAuth: who is calling (API key, virtual key or session JWT), may they use this router,
and are they within their requests per second. All in memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hyperstrate_contracts import utc_now
from hyperstrate_contracts.router import Caller
from hyperstrate_gateway.inference.directory import RouterDirectory, RouterEntry
from hyperstrate_kit.errors import AppError, UnauthorizedError
from hyperstrate_kit.keys import (
    KEY_TOKEN_PREFIX,
    KeyAccess,
    KeyDirectory,
    KeyIdentity,
    credential_of,
)
from hyperstrate_kit.security import hash_key
from hyperstrate_kit.sessions import LiveSessions

__all__ = ["AccessDenied", "InferAuth", "Verdict"]


class AccessDenied(Exception):
    """The caller may not proceed: `status` is 401, 403, 404 or 429."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after

    @classmethod
    def of(cls, error: AppError) -> AccessDenied:
        """The refusal of the kit's key checks, with its status, reason and retry delay."""
        return cls(error.status_code, error.message, getattr(error, "retry_after", None))


@dataclass(frozen=True, slots=True)
class Verdict:
    """An authenticated caller and the router they may use."""

    caller: Caller
    router: RouterEntry


class InferAuth:
    """Keys and session users from the AUTH stream, routers from the ROUTER stream.

    The key checks themselves are the kit's `KeyAccess`, shared with the catalog's direct
    inference: one governance for every route that reaches a provider."""

    def __init__(self, sessions: LiveSessions, routers: RouterDirectory) -> None:
        self.sessions, self.routers = sessions, routers
        self.keys: KeyDirectory = sessions.directory
        self.access = KeyAccess(self.keys)
        self.last_used: dict[str, datetime] = {}  # key hash -> last seen (reported in batches)

    def caller(self, headers: Mapping[str, str]) -> tuple[Caller, KeyIdentity | None]:
        """The caller of a request's credentials (401 when there are none or they are bad)."""
        token = credential_of(headers)
        if not token:
            raise AccessDenied(
                401, "missing API key: send `Authorization: Bearer <key>` or `x-api-key`"
            )
        if token.startswith(KEY_TOKEN_PREFIX):
            key_hash = hash_key(token)
            try:
                identity = self.access.authenticate(key_hash)
            except AppError as error:
                raise AccessDenied.of(error) from None
            self.last_used[key_hash] = utc_now()
            team = self.keys.team_limits(identity.team_id)
            return Caller(
                org_id=identity.org_id,
                kind=identity.kind,
                key_id=identity.key_id,
                user_id=identity.user_id,
                team_id=identity.team_id,
                max_requests=identity.max_requests,
                max_cost_usd=identity.max_cost_usd,
                reset_period=identity.reset_period,
                team_max_requests=team.max_requests if team else None,
                team_max_cost_usd=team.max_cost_usd if team else None,
            ), identity
        try:
            # No wait for a user not projected yet: the hot path never waits on the bus.
            principal = self.sessions.check(token)
        except UnauthorizedError as exc:
            raise AccessDenied(401, "invalid or expired session token") from exc
        return Caller(org_id=principal.org_id, kind="session", user_id=principal.user_id), None

    def authorize(self, headers: Mapping[str, str], router_ref: str) -> Verdict:
        """Authenticate, resolve the router, check scope, team access and the key's rate."""
        caller, identity = self.caller(headers)
        router = self.routers.resolve(caller.org_id, router_ref)
        if router is None or not router.enabled:
            raise AccessDenied(404, f"router {router_ref!r} not found")
        try:
            self.access.admit_router(caller.org_id, router.id, identity)
        except AppError as error:
            raise AccessDenied.of(error) from None
        return Verdict(caller, router)

    def take_usage(self) -> dict[str, datetime]:
        """Keys seen since the last call (for the batched last-used report)."""
        seen, self.last_used = self.last_used, {}
        return seen
