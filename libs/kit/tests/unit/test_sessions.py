"""Session tokens, their live check against the users of the AUTH stream, and the guards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import jwt
import msgspec
import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.testing import TestClient

from hyperstrate_contracts import encode_event
from hyperstrate_contracts.auth import (
    OrganizationDeleted,
    UserCreated,
    UserDeleted,
    UserUpdated,
    auth_registry,
)
from hyperstrate_kit.actors import current_actor
from hyperstrate_kit.errors import UnauthorizedError
from hyperstrate_kit.http import create_http_app
from hyperstrate_kit.sessions import (
    LiveSessions,
    Principal,
    admin_guard,
    issue_access_token,
    session_guard,
    verify_access_token,
)

SECRET = "test-secret-that-is-long-enough-for-hs256"
ADMIN = Principal(org_id="org1", user_id="u1", role="admin", email="a@example.com")
MEMBER = Principal(org_id="org1", user_id="u2", role="member")


@get("/me", guards=[session_guard], sync_to_thread=False)
def me(principal: NamedDependency[Principal]) -> dict[str, str]:
    return {"org": principal.org_id, "user": principal.user_id}


@get("/admin-only", guards=[admin_guard], sync_to_thread=False)
def admin_only() -> dict[str, bool]:
    return {"ok": True}


@get("/who", guards=[admin_guard])
async def who() -> dict[str, str | None]:
    actor = current_actor()  # what an append in this handler would record
    return {"kind": actor.kind if actor else None, "id": actor.id if actor else None}


@get("/anonymous")
async def anonymous() -> dict[str, bool]:
    return {"named": current_actor() is not None}


def user_created(principal: Principal) -> UserCreated:
    """The AUTH event that makes `principal`'s user known to the services."""
    return UserCreated(org_id=principal.org_id, aggregate_id=principal.user_id,
                       email=principal.email or f"{principal.user_id}@x.example", name="U",
                       role=principal.role)  # fmt: skip


def live_sessions(*principals: Principal, admin_email: str = "") -> LiveSessions:
    sessions = LiveSessions(SECRET, admin_email=admin_email, new_user_wait_seconds=1.0)
    for principal in principals:
        sessions.apply(user_created(principal))
    return sessions


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    app = create_http_app(title="t", route_handlers=[me, admin_only, who, anonymous], frontend_url="http://x",
                          jwt_secret=SECRET)  # fmt: skip
    app.state.sessions = live_sessions(
        ADMIN, MEMBER, Principal(org_id="org1", user_id="u3", role="admin")
    )
    with TestClient(app) as test_client:
        yield test_client


def _auth(principal: Principal, secret: str = SECRET, ttl: int = 60) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_access_token(principal, secret, ttl)}"}


def test_token_round_trip_and_rejections() -> None:
    token = issue_access_token(ADMIN, SECRET)
    assert verify_access_token(token, SECRET) == ADMIN
    for bad in (token + "x", issue_access_token(ADMIN, "other-secret-also-long-enough-xx"),
                issue_access_token(ADMIN, SECRET, ttl_seconds=-10), "not.a.jwt"):  # fmt: skip
        with pytest.raises(Exception, match="invalid or expired session"):
            verify_access_token(bad, SECRET)


def _minted(secret: str = SECRET, **claims: object) -> str:
    """A token signed with the real secret, with claims of the caller's choosing."""
    now = int(time.time())
    base = {"iss": "hyperstrate", "sub": "u1", "org": "org1", "role": "admin", "typ": "access",
            "iat": now, "exp": now + 60}  # fmt: skip
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


def test_lifetimes_beyond_the_access_token_ttl_and_future_tokens_are_refused() -> None:
    now = int(time.time())
    ten_years = 10 * 365 * 86400
    refused = [
        _minted(exp=now + ten_years),  # a far expiry with a good signature
        _minted(iat=now - 10, exp=now - 10 + 15 * 60 + 1),  # a second longer than the TTL
        _minted(iat=now + 120, exp=now + 180),  # issued in the future
        _minted(nbf=now + 120),  # not valid yet
        _minted(exp=now - 1),  # expired
        _minted(iat="yesterday"),  # times that are not numbers
    ]
    for token in refused:
        with pytest.raises(UnauthorizedError):
            verify_access_token(token, SECRET)
    accepted = [
        _minted(iat=now + 20, exp=now + 60),  # within the clocks' leeway
        _minted(nbf=now - 5),
        _minted(iat=now, exp=now + 15 * 60),  # exactly the TTL
    ]
    for token in accepted:
        assert verify_access_token(token, SECRET).user_id == "u1"
    short = issue_access_token(ADMIN, SECRET, ttl_seconds=600)
    assert verify_access_token(short, SECRET, max_ttl_seconds=600).user_id == "u1"
    with pytest.raises(UnauthorizedError):
        verify_access_token(issue_access_token(ADMIN, SECRET), SECRET, max_ttl_seconds=600)


def test_a_session_lives_only_while_its_user_does() -> None:
    sessions = live_sessions(ADMIN, MEMBER)
    token = issue_access_token(ADMIN, SECRET)
    assert sessions.check(token) == ADMIN
    never = Principal(org_id="org1", user_id="u-never", role="admin")
    other_org = Principal(org_id="org-never", user_id="u1", role="admin")
    for forged in (never, other_org):  # signed with the real secret, for nobody real
        with pytest.raises(UnauthorizedError):
            sessions.check(issue_access_token(forged, SECRET))

    sessions.apply(UserUpdated(org_id="org1", aggregate_id="u1", name="A", role="member"))
    assert sessions.check(token).role == "member"  # demoted: the projection's role counts
    sessions.apply(UserUpdated(org_id="org1", aggregate_id="u1", name="A", role="admin",
                               disabled=True))  # fmt: skip
    with pytest.raises(UnauthorizedError):
        sessions.check(token)
    sessions.apply(UserUpdated(org_id="org1", aggregate_id="u1", name="A", role="admin"))
    assert sessions.check(token).is_admin  # enabled again
    sessions.apply(UserDeleted(org_id="org1", aggregate_id="u1"))
    with pytest.raises(UnauthorizedError):
        sessions.check(token)

    member = issue_access_token(MEMBER, SECRET)
    assert sessions.check(member).user_id == "u2"
    sessions.apply(OrganizationDeleted(org_id="org1", aggregate_id="org1"))
    with pytest.raises(UnauthorizedError):
        sessions.check(member)


def test_admin_email_keeps_its_admin_role() -> None:
    operator = Principal(org_id="org1", user_id="u9", role="member", email="op@example.com")
    sessions = live_sessions(operator, admin_email="OP@example.com")
    elevated = Principal(org_id="org1", user_id="u9", role="admin", email="op@example.com")
    assert sessions.check(issue_access_token(elevated, SECRET)).is_admin
    assert not live_sessions(operator).check(issue_access_token(elevated, SECRET)).is_admin


async def test_a_new_users_token_waits_for_the_user_to_arrive() -> None:
    sessions = live_sessions()
    token = issue_access_token(MEMBER, SECRET)
    # The user's creation is still on its way from the auth service's relay.
    asyncio.get_running_loop().call_soon(sessions.apply, user_created(MEMBER))
    assert (await sessions.verify(token)).user_id == "u2"


async def test_deleted_and_long_unknown_users_are_refused_without_waiting() -> None:
    sessions = live_sessions(MEMBER)
    sessions.apply(UserDeleted(org_id="org1", aggregate_id="u2"))
    old = _minted(sub="u-old", iat=int(time.time()) - 300, exp=int(time.time()) + 60)
    started = time.monotonic()
    for token in (issue_access_token(MEMBER, SECRET), old):
        with pytest.raises(UnauthorizedError):
            await sessions.verify(token)
    assert time.monotonic() - started < 0.5
    with pytest.raises(UnauthorizedError):  # a fresh forged one waits its bound, then fails
        await sessions.verify(issue_access_token(ADMIN, SECRET))


def test_session_guard_injects_the_principal(client: TestClient[Litestar]) -> None:
    assert client.get("/me", headers=_auth(MEMBER)).json() == {"org": "org1", "user": "u2"}
    missing = client.get("/me")
    assert missing.status_code == 401 and missing.json()["error"] == "missing bearer token"
    expired = client.get("/me", headers=_auth(MEMBER, ttl=-5))
    assert expired.status_code == 401
    forged = client.get("/me", headers=_auth(MEMBER, secret="forged-secret-forged-secret-xxxx"))
    assert forged.status_code == 401
    ten_years = _minted(sub="u2", role="member", exp=int(time.time()) + 10 * 365 * 86400)
    assert client.get("/me", headers={"Authorization": f"Bearer {ten_years}"}).status_code == 401


def test_admin_guard_needs_the_admin_role(client: TestClient[Litestar]) -> None:
    assert client.get("/admin-only", headers=_auth(ADMIN)).status_code == 200
    member = client.get("/admin-only", headers=_auth(MEMBER))
    assert member.status_code == 403 and member.json()["error"] == "admin role required"
    assert client.get("/admin-only").status_code == 401


def test_the_guard_names_the_caller_as_the_actor_of_its_request(
    client: TestClient[Litestar],
) -> None:
    # The guard runs before the handler; the handler must still see whom it named.
    for principal in (ADMIN, Principal(org_id="org1", user_id="u3", role="admin")):
        response = client.get("/who", headers=_auth(principal))
        assert response.json() == {"kind": "user", "id": principal.user_id}
    # One request's caller never leaks into the next, unauthenticated one.
    assert client.get("/anonymous").json() == {"named": False}


def test_user_updates_recorded_before_disabling_existed_decode_as_enabled() -> None:
    registry = auth_registry()
    old = UserUpdated(org_id="org1", aggregate_id="u2", name="M", role="member")
    body = msgspec.json.decode(encode_event(old))
    del body["disabled"]  # as events were written before the field
    decoded = registry.decode("auth.user.updated", msgspec.json.encode(body))
    assert isinstance(decoded, UserUpdated) and decoded.disabled is False
    sessions = live_sessions(MEMBER)
    sessions.apply(decoded)
    assert sessions.check(issue_access_token(MEMBER, SECRET)).user_id == "u2"
