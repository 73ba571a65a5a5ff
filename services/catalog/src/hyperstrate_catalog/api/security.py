"""Who may run direct inference (`/ai/infer`, `/ai/jobs`, `/ai/conversations`): an admin
session, or a key the kit's `KeyAccess` lets bypass routers (looked up in memory by its hash,
no database call). Admin routes use the kit's `admin_guard`."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from hyperstrate_catalog.application.common import Caller
from hyperstrate_catalog.domain.header_values import header_value
from hyperstrate_kit.errors import ForbiddenError, InvalidInputError, UnauthorizedError
from hyperstrate_kit.keys import DIRECT_INFERENCE_RULE, KEY_TOKEN_PREFIX, KeyAccess, credential_of
from hyperstrate_kit.security import OutboundUrlGuard, UnsafeUrlError, hash_key
from hyperstrate_kit.sessions import Principal, session_principal

__all__ = ["caller_of", "check_outbound_url", "header_safe", "header_safe_headers", "infer_guard"]

HeaderBound = TypeVar("HeaderBound", bound=msgspec.Struct)


async def infer_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard of direct inference: `Authorization: Bearer <key or session>` (or
    `x-api-key`). A registration called directly skips every router's scope, limits and
    budgets, so only an admin session or an unscoped, uncapped admin's API key pass (403 with
    the reason otherwise), and a key's requests per second apply as at the gateway."""
    token = credential_of(connection.headers)
    if not token:
        raise UnauthorizedError("missing bearer token")
    if token.startswith(KEY_TOKEN_PREFIX):
        access: KeyAccess = connection.app.state.runtime.services["key_access"]
        identity = access.authenticate(hash_key(token))
        access.admit_direct(identity)
        connection.state.principal = Principal(
            org_id=identity.org_id, user_id=identity.user_id or "", role=identity.role
        )
        connection.state.caller = Caller(
            org_id=identity.org_id,
            user_id=identity.user_id,
            api_key_id=identity.key_id,
            team_id=identity.team_id,
            key_kind=identity.kind,
        )
        return
    principal = await session_principal(connection, token)  # a live user, as every guard
    if not principal.is_admin:
        raise ForbiddenError("a member may only call routers; " + DIRECT_INFERENCE_RULE)
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


def header_safe(data: HeaderBound, attribute: str, field: str) -> HeaderBound:
    """`data` with its header-bound secret `attribute` trimmed (a 400 naming `field` when it
    holds a line break, another control character or a non-ASCII character)."""
    value = getattr(data, attribute)
    if not isinstance(value, str):  # UNSET: the secret is not changed
        return data
    try:
        return msgspec.structs.replace(data, **{attribute: header_value(value)})
    except ValueError as exc:
        raise InvalidInputError(f"invalid input: {field}", {field: [str(exc)]}) from None


def header_safe_headers(data: HeaderBound) -> HeaderBound:
    """`data` with each value of its `headers` trimmed (a 400 naming `headers` and the
    header, never its value, when one may not be sent)."""
    headers = getattr(data, "headers")  # noqa: B009 - any Struct with `headers`
    if not isinstance(headers, dict):
        return data
    safe: dict[str, str] = {}
    for name, value in headers.items():
        try:
            safe[name] = header_value(value)
        except ValueError as exc:
            raise InvalidInputError(
                "invalid input: headers", {"headers": [f"{name}: {exc}"]}
            ) from None
    return msgspec.structs.replace(data, headers=safe)
