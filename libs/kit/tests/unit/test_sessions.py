"""Session tokens and the session/admin guards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.testing import TestClient

from hyperstrate_kit.actors import current_actor
from hyperstrate_kit.http import create_http_app
from hyperstrate_kit.sessions import (
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


@pytest.fixture
def client() -> Iterator[TestClient[Litestar]]:
    app = create_http_app(title="t", route_handlers=[me, admin_only, who, anonymous], frontend_url="http://x",
                          jwt_secret=SECRET)  # fmt: skip
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


def test_session_guard_injects_the_principal(client: TestClient[Litestar]) -> None:
    assert client.get("/me", headers=_auth(MEMBER)).json() == {"org": "org1", "user": "u2"}
    missing = client.get("/me")
    assert missing.status_code == 401 and missing.json()["error"] == "missing bearer token"
    expired = client.get("/me", headers=_auth(MEMBER, ttl=-5))
    assert expired.status_code == 401
    forged = client.get("/me", headers=_auth(MEMBER, secret="forged-secret-forged-secret-xxxx"))
    assert forged.status_code == 401


def test_admin_guard_needs_the_admin_role(client: TestClient[Litestar]) -> None:
    assert client.get("/admin-only", headers=_auth(ADMIN)).status_code == 200
    member = client.get("/admin-only", headers=_auth(MEMBER))
    assert member.status_code == 403 and member.json()["error"] == "admin role required"
    assert client.get("/admin-only").status_code == 401


def test_the_guard_names_the_caller_as_the_actor_of_its_request(
    client: TestClient[Litestar],
) -> None:
    # The sync guard runs in a worker thread; the handler must still see whom it named.
    for principal in (ADMIN, Principal(org_id="org1", user_id="u3", role="admin")):
        response = client.get("/who", headers=_auth(principal))
        assert response.json() == {"kind": "user", "id": principal.user_id}
    # One request's caller never leaks into the next, unauthenticated one.
    assert client.get("/anonymous").json() == {"named": False}
