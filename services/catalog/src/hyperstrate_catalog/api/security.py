"""Who may call the infer routes: an API key (looked up in memory by its hash, no database
call) or a session token. Admin routes use the kit's `admin_guard`."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from hyperstrate_catalog.application.common import Caller
from hyperstrate_kit.errors import InvalidInputError, UnauthorizedError
from hyperstrate_kit.keys import KeyDirectory
from hyperstrate_kit.security import OutboundUrlGuard, UnsafeUrlError, hash_key
from hyperstrate_kit.sessions import Principal, bearer_token, verify_access_token

__all__ = ["API_KEY_PREFIX", "caller_of", "check_outbound_url", "infer_guard"]

API_KEY_PREFIX = "hs_"


def infer_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: `Authorization: Bearer hs_…` (an API key) or a session token."""
    token = bearer_token(connection)
    if token is None:
        raise UnauthorizedError("missing bearer token")
    if token.startswith(API_KEY_PREFIX):
        directory: KeyDirectory = connection.app.state.runtime.services["keys"]
        identity = directory.lookup(hash_key(token))
        if identity is None or identity.kind != "api_key":
            raise UnauthorizedError("invalid API key")
        connection.state.principal = Principal(
            org_id=identity.org_id, user_id=identity.user_id or "", role=identity.role
        )
        connection.state.caller = Caller(
            org_id=identity.org_id,
            user_id=identity.user_id,
            api_key_id=identity.key_id,
            team_id=identity.team_id,
        )
        return
    principal = verify_access_token(token, connection.app.state.jwt_secret)
    connection.state.principal = principal
    connection.state.caller = Caller.of(principal)


def caller_of(request: Request[Any, Any, Any]) -> Caller:
    """The caller an infer or session guard established (the `caller` dependency)."""
    caller: Caller | None = request.state.get("caller")
    if caller is not None:
        return caller
    principal: Principal | None = request.state.get("principal")
    if principal is None:
        raise UnauthorizedError("missing bearer token")
    return Caller.of(principal)


def check_outbound_url(guard: OutboundUrlGuard, field: str, url: str | None) -> None:
    """A 400 naming `field` when `url` may not be connected to (no DNS lookup here)."""
    if url is None:
        return
    try:
        guard.check_literal(url)
    except UnsafeUrlError as exc:
        raise InvalidInputError(f"invalid input: {field}", {field: [exc.reason]}) from None
