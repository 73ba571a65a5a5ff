"""Session tokens and the guards every admin API uses.

The auth service issues short-lived HS256 access tokens signed with `JWT_SECRET`; every
other service verifies them locally (no call to auth per request) with these guards. A
signature alone is not enough: `LiveSessions` honours a token only while its user exists in
its organisation and is not disabled, as the AUTH stream last said (an in-memory projection,
no database call), and takes the role from there, so a deletion, a disabling or a demotion
ends the user's sessions as soon as its event arrives.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Literal

import jwt
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from hyperstrate_contracts import Event
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import identify
from hyperstrate_kit.errors import ForbiddenError, UnauthorizedError, UnavailableError
from hyperstrate_kit.keys import KeyDirectory

__all__ = [
    "ACCESS_TOKEN_TTL_SECONDS",
    "CLOCK_LEEWAY_SECONDS",
    "LiveSessions",
    "Principal",
    "admin_guard",
    "bearer_token",
    "establish_caller",
    "issue_access_token",
    "principal_of",
    "session_guard",
    "session_principal",
    "verify_access_token",
]

ACCESS_TOKEN_TTL_SECONDS = 15 * 60
#: How far apart the clocks of the issuer and a verifier may be (for `iat` and `nbf`).
CLOCK_LEEWAY_SECONDS = 30
#: A token this young whose user is not projected yet waits for the user's event (the
#: AUTH stream may still be carrying it: setup and first logins issue a token at once).
NEW_USER_TOKEN_AGE_SECONDS = 60
NEW_USER_WAIT_SECONDS = 2.0
_ALGORITHM = "HS256"
_ISSUER = "hyperstrate"
_REFUSED = "invalid or expired session"

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


def _verified_claims(token: str, secret: str, max_ttl_seconds: int, now: float) -> dict[str, Any]:
    """The claims of a well-signed, unexpired access token of a bounded lifetime."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "org", "role"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False},
        )  # fmt: skip
    except jwt.PyJWTError as exc:
        raise UnauthorizedError(_REFUSED) from exc
    if not _within_bounds(claims, max_ttl_seconds, now):
        raise UnauthorizedError(_REFUSED)
    if claims.get("typ") != "access" or claims["role"] not in ("admin", "member"):
        raise UnauthorizedError(_REFUSED)
    return claims


def _within_bounds(claims: dict[str, Any], max_ttl_seconds: int, now: float) -> bool:
    """Unexpired, issued in the past, valid now, and living no longer than tokens are
    issued for: a token minted with a far `exp` is refused even with a good signature."""
    times = (claims["exp"], claims["iat"], claims.get("nbf", 0))
    if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in times):
        return False
    expires, issued, not_before = (float(value) for value in times)
    return (
        now < expires
        and issued <= now + CLOCK_LEEWAY_SECONDS
        and not_before <= now + CLOCK_LEEWAY_SECONDS
        and expires - issued <= max_ttl_seconds
    )


def verify_access_token(
    token: str,
    secret: str,
    max_ttl_seconds: int = ACCESS_TOKEN_TTL_SECONDS,
    now: float | None = None,
) -> Principal:
    """The principal a valid access token names (signature, expiry, `iat`, `nbf` and
    lifetime checked; `UnauthorizedError` otherwise). Says nothing of whether the user still
    exists: services check that with `LiveSessions`."""
    claims = _verified_claims(token, secret, max_ttl_seconds, time.time() if now is None else now)
    return Principal(
        org_id=claims["org"],
        user_id=claims["sub"],
        role=claims["role"],
        email=claims.get("email", ""),
    )


class LiveSessions:
    """Session tokens checked against the users of the AUTH stream, held in memory.

    `apply` is the AUTH stream follower's callback (it feeds the `KeyDirectory` that the
    API-key checks share). `check` answers at once; `verify` also waits, briefly, for a user
    the projection has not seen yet when the token is new.
    """

    def __init__(
        self,
        secret: str,
        directory: KeyDirectory | None = None,
        *,
        ttl_seconds: int = ACCESS_TOKEN_TTL_SECONDS,
        admin_email: str = "",
        new_user_wait_seconds: float = NEW_USER_WAIT_SECONDS,
    ) -> None:
        self.directory = directory if directory is not None else KeyDirectory()
        self._secret, self._ttl_seconds = secret, ttl_seconds
        self._admin_email = admin_email.strip().lower()
        self._new_user_wait_seconds = new_user_wait_seconds
        self._changed = asyncio.Event()  # set, then replaced, on every applied event

    def apply(self, event: Event) -> None:
        """Apply one AUTH event and wake the checks waiting for a new user."""
        self.directory.apply(event)
        self._changed.set()
        self._changed = asyncio.Event()

    def check(self, token: str, now: float | None = None) -> Principal:
        """The principal of a valid token of a live user, with the user's current role and
        e-mail (`UnauthorizedError` otherwise)."""
        claims = _verified_claims(
            token, self._secret, self._ttl_seconds, time.time() if now is None else now
        )
        principal = self._live_principal(claims)
        if principal is None:
            raise UnauthorizedError(_REFUSED)
        return principal

    async def verify(self, token: str) -> Principal:
        """`check`, waiting up to a couple of seconds for the user of a new token whose
        creation has not reached this projection yet."""
        claims = _verified_claims(token, self._secret, self._ttl_seconds, time.time())
        principal = self._live_principal(claims)
        if principal is None and self._may_be_arriving(claims):
            principal = await self._await_user(claims)
        if principal is None:
            raise UnauthorizedError(_REFUSED)
        return principal

    def _live_principal(self, claims: dict[str, Any]) -> Principal | None:
        user = self.directory.session_user(claims["org"], claims["sub"])
        if user is None or user.disabled:
            return None
        # ADMIN_EMAIL's user is always an admin (auth issues its tokens so, too).
        elevated = bool(self._admin_email) and user.email == self._admin_email
        return Principal(
            org_id=claims["org"],
            user_id=claims["sub"],
            role="admin" if elevated else user.role,
            email=user.email or claims.get("email", ""),
        )

    def _may_be_arriving(self, claims: dict[str, Any]) -> bool:
        young = time.time() - claims["iat"] <= NEW_USER_TOKEN_AGE_SECONDS
        return young and not self.directory.ever_knew_user(claims["sub"])

    async def _await_user(self, claims: dict[str, Any]) -> Principal | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._new_user_wait_seconds
        while (remaining := deadline - loop.time()) > 0:
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return None
            principal = self._live_principal(claims)
            if principal is not None or self.directory.ever_knew_user(claims["sub"]):
                return principal
        return None


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


async def session_principal(
    connection: ASGIConnection[Any, Any, Any, Any], token: str
) -> Principal:
    """The live principal of a session token presented to this service (401 when the token
    is bad or its user is gone; 503 when the service has no session projection)."""
    sessions: LiveSessions | None = connection.app.state.get("sessions")
    if sessions is None:
        raise UnavailableError("sessions cannot be checked by this service")
    return await sessions.verify(token)


async def session_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Litestar guard: a valid session token of a live user, any role (401 otherwise)."""
    token = bearer_token(connection)
    if token is None:
        raise UnauthorizedError("missing bearer token")
    establish_caller(connection, await session_principal(connection, token))


async def admin_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Litestar guard: a valid session token of a live admin (401, then 403)."""
    await session_guard(connection, handler)
    if not connection.state.principal.is_admin:
        raise ForbiddenError("admin role required")


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    """The principal a guard put on the request (the `principal` dependency of handlers)."""
    principal: Principal | None = request.state.get("principal")
    if principal is None:  # a handler without a session guard asked for it
        raise UnauthorizedError("missing bearer token")
    return principal
