"""Session tokens and the guards every admin API uses.

The auth service issues short-lived HS256 access tokens signed with `JWT_SECRET`; every
other service verifies them locally (no call to auth per request) with these guards. The
token names the caller's organisation and role, so every query can be scoped by org.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

import jwt
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import identify
from hyperstrate_kit.errors import ForbiddenError, UnauthorizedError

__all__ = [
    "ACCESS_TOKEN_TTL_SECONDS",
    "Principal",
    "admin_guard",
    "bearer_token",
    "establish_caller",
    "issue_access_token",
    "principal_of",
    "session_guard",
    "verify_access_token",
]

ACCESS_TOKEN_TTL_SECONDS = 15 * 60
_ALGORITHM = "HS256"
_ISSUER = "hyperstrate"

Role = Literal["admin", "member"]


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: a user of an organisation with a role."""

    org_id: str
    user_id: str
    role: Role
    email: str = ""

    @property
    def is_admin(self) -> bool:
        """True for the admin role."""
        return self.role == "admin"


def issue_access_token(
    principal: Principal, secret: str, ttl_seconds: int = ACCESS_TOKEN_TTL_SECONDS
) -> str:
    """A signed access token for `principal`, valid for `ttl_seconds`."""
    now = int(time.time())
    claims = {
        "iss": _ISSUER,
        "sub": principal.user_id,
        "org": principal.org_id,
        "role": principal.role,
        "email": principal.email,
        "typ": "access",
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_access_token(token: str, secret: str) -> Principal:
    """The principal of a valid, unexpired access token; `UnauthorizedError` otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "org", "role"]},
        )
    except jwt.PyJWTError as exc:
        raise UnauthorizedError("invalid or expired session") from exc
    if claims.get("typ") != "access" or claims["role"] not in ("admin", "member"):
        raise UnauthorizedError("invalid or expired session")
    return Principal(
        org_id=claims["org"],
        user_id=claims["sub"],
        role=claims["role"],
        email=claims.get("email", ""),
    )


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def establish_caller(
    connection: ASGIConnection[Any, Any, Any, Any],
    principal: Principal,
    actor: Actor | None = None,
) -> None:
    """Put the authenticated caller on the request: the `principal` handlers take, and the
    actor its events record (default: the principal's user; an API-key guard passes the key).
    """
    connection.state.principal = principal
    identify(actor or Actor(kind="user", id=principal.user_id))


def session_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: a valid session token, any role (401 otherwise)."""
    token = bearer_token(connection)
    if token is None:
        raise UnauthorizedError("missing bearer token")
    establish_caller(connection, verify_access_token(token, connection.app.state.jwt_secret))


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Litestar guard: a valid session token of an admin (401, then 403)."""
    session_guard(connection, handler)
    if not connection.state.principal.is_admin:
        raise ForbiddenError("admin role required")


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """The principal a guard put on the request (the `principal` dependency of handlers)."""
    principal: Principal | None = request.state.get("principal")
    if principal is None:  # a handler without a session guard asked for it
        raise UnauthorizedError("missing bearer token")
    return principal
