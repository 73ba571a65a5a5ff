"""Sessions and logins as an attacker meets them: a stolen refresh token ends its family,
wrong passwords back off then lock (alike for unknown accounts), e-mails disclose no other
organisation, and answers carrying a token or a key are never stored by a cache."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
from auth_support import (
    ADMIN_PASSWORD,
    auth_environment,
    bearer,
    operator_org,
    setup_admin,
)

from hyperstrate_auth.app import create_app
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, wait_for

Client = httpx.AsyncClient
THROTTLED = {"error": "too many failed logins; try again later", "fields": {}}
WRONG = {"error": "invalid email or password", "fields": {}}


@contextlib.asynccontextmanager
async def _auth(infrastructure: Infrastructure, **environ: str) -> AsyncIterator[Client]:
    settings = load_settings(AuthSettings, environ=auth_environment(infrastructure, **environ))
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def _login(client: Client, email: str, password: str, address: str = "") -> httpx.Response:
    # The test client is on loopback, a trusted proxy by default: it says whom it serves.
    headers = {"X-Forwarded-For": address} if address else {}
    return await client.post(
        "/auth/login", json={"email": email, "password": password}, headers=headers
    )


async def _refresh(client: Client, token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refreshToken": token})


async def test_reusing_a_spent_refresh_token_ends_its_whole_family_and_is_recorded(
    auth_client: Client, infrastructure: Infrastructure
) -> None:
    first = await setup_admin(auth_client)
    elsewhere = (await _login(auth_client, "admin@a.example", ADMIN_PASSWORD)).json()
    second = (await _refresh(auth_client, first["refreshToken"])).json()
    newest = (await _refresh(auth_client, second["refreshToken"])).json()

    nc = await connect_nats(infrastructure.nats_url, "test-reuse")
    seen: list[Any] = []
    try:
        subscription = await nc.jetstream().subscribe(
            "auth.session.reuse_detected", ordered_consumer=True
        )
        # A thief replays the first token, long spent...
        reused = await _refresh(auth_client, first["refreshToken"])
        assert reused.status_code == 401
        assert reused.json()["error"] == "invalid or expired refresh token"

        async def reuse_event() -> bool:
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                msg = await subscription.next_msg(timeout=0.5)
                body = msgspec.json.decode(msg.data)
                if body["org_id"] == first["user"]["orgId"]:
                    seen.append((body, msg.headers))
            return bool(seen)

        await wait_for(reuse_event, timeout=10, message="auth.session.reuse_detected")
    finally:
        await nc.drain()
    # ...and the owner's newest token of that family stops working too.
    assert (await _refresh(auth_client, newest["refreshToken"])).status_code == 401
    # Another login of the same user is another family: untouched.
    assert (await _refresh(auth_client, elsewhere["refreshToken"])).status_code == 200
    body, headers = seen[0]
    assert body["user_id"] == first["user"]["id"] and body["sessions_ended"] == 1
    assert (headers["Hs-Actor-Kind"], headers["Hs-Actor-Id"]) == ("system", "refresh-token-reuse")
    assert first["refreshToken"] not in str(body)


async def _attempts(client: Client, email: str, password: str) -> list[tuple[int, Any, str]]:
    """Wrong passwords until the lock, as (status, body, Retry-After) at each step."""
    seen = []
    for _ in range(3):  # 2 free failures; the 3rd blocks for 1 s
        answer = await _login(client, email, "wrong password")
        seen.append((answer.status_code, answer.json(), answer.headers.get("retry-after", "")))
    blocked = await _login(client, email, password)  # even the right password waits
    seen.append((blocked.status_code, blocked.json(), blocked.headers.get("retry-after", "")))

    async def unblocked() -> httpx.Response | None:
        answer = await _login(client, email, "wrong password")
        return answer if answer.status_code != 429 else None

    fourth = await wait_for(unblocked, timeout=5, interval=0.2, message="the back-off to end")
    seen.append((fourth.status_code, fourth.json(), ""))  # the 4th failure locks
    locked = await _login(client, email, password)
    seen.append((locked.status_code, locked.json(), str(int(locked.headers["retry-after"]) > 25)))
    return seen


async def test_wrong_passwords_back_off_then_lock_alike_for_known_and_unknown_accounts(
    infrastructure: Infrastructure,
) -> None:
    async with _auth(
        infrastructure,
        LOGIN_FREE_FAILURES="2",
        LOGIN_LOCK_AFTER_FAILURES="4",
        LOGIN_BACKOFF_SECONDS="1",
        LOGIN_BACKOFF_MAX_SECONDS="1",
        LOGIN_LOCK_SECONDS="30",
    ) as client:
        await setup_admin(client)
        known = await _attempts(client, "admin@a.example", ADMIN_PASSWORD)
        unknown = await _attempts(client, "ghost@a.example", ADMIN_PASSWORD)
        expected = [
            (401, WRONG, ""), (401, WRONG, ""), (401, WRONG, ""),
            (429, THROTTLED, "1"),
            (401, WRONG, ""),
            (429, THROTTLED, "True"),
        ]  # fmt: skip
        assert known == unknown == expected
        # Other accounts are not held back by this one's lock.
        assert (await _login(client, "other@a.example", "wrong password")).status_code == 401


async def test_an_unknown_account_costs_a_password_check_like_a_known_one(
    auth_client: Client,
) -> None:
    await setup_admin(auth_client)

    async def duration(email: str) -> float:
        started = time.perf_counter()
        assert (await _login(auth_client, email, "wrong password")).status_code == 401
        return time.perf_counter() - started

    known = sorted([await duration("admin@a.example") for _ in range(3)])[1]
    unknown = sorted([await duration("ghost@a.example") for _ in range(3)])[1]
    assert unknown > known / 2 and known > unknown / 2, (known, unknown)


async def test_failures_from_one_address_throttle_it_for_every_account(
    infrastructure: Infrastructure,
) -> None:
    async with _auth(
        infrastructure,
        LOGIN_ADDRESS_FREE_FAILURES="2",
        LOGIN_ADDRESS_LOCK_AFTER_FAILURES="3",
        LOGIN_LOCK_SECONDS="60",
    ) as client:
        await setup_admin(client)
        for n in range(3):  # three accounts guessed from one address: it is locked
            answer = await _login(client, f"guess{n}@a.example", "wrong password", "198.51.100.7")
            assert answer.status_code == 401
        fresh = await _login(client, "admin@a.example", ADMIN_PASSWORD, "198.51.100.7")
        assert fresh.status_code == 429 and int(fresh.headers["retry-after"]) > 50
        # A hop the client wrote itself (left of the one the proxy saw) changes nothing...
        forged = await _login(
            client, "admin@a.example", ADMIN_PASSWORD, "203.0.113.1, 198.51.100.7"
        )
        assert forged.status_code == 429
        # ...while another address logs in as ever.
        other = await _login(client, "admin@a.example", ADMIN_PASSWORD, "198.51.100.8")
        assert other.status_code == 200


async def test_answers_carrying_a_token_or_a_key_are_never_stored(auth_client: Client) -> None:
    setup = await auth_client.post(
        "/auth/setup",
        json={"organizationName": "A", "email": "admin@a.example", "password": ADMIN_PASSWORD},
    )
    login = await _login(auth_client, "admin@a.example", ADMIN_PASSWORD)
    refreshed = await _refresh(auth_client, login.json()["refreshToken"])
    admin = bearer(login.json())
    api_key = await auth_client.post("/auth/api-keys", headers=admin, json={"name": "k"})
    virtual_key = await auth_client.post("/auth/virtual-keys", headers=admin, json={"name": "v"})
    for answer in (setup, login, refreshed, api_key, virtual_key):
        assert answer.status_code in (200, 201), answer.text
        assert answer.headers["cache-control"] == "no-store", answer.request.url


async def test_an_email_used_in_another_organization_discloses_nothing(
    auth_client: Client, auth_settings: AuthSettings
) -> None:
    a_admin = await setup_admin(auth_client)
    b_org = await operator_org(auth_settings, "Org B", "admin@b.example")
    b_admin = bearer((await _login(auth_client, "admin@b.example", ADMIN_PASSWORD)).json())
    # B creates a user with the address of A's admin: nothing tells B it exists in A.
    created = await auth_client.post(
        "/auth/users",
        headers=b_admin,
        json={"email": "Admin@A.example", "password": "b's own password", "name": "Namesake"},
    )
    assert created.status_code == 201, created.text
    again = await auth_client.post(
        "/auth/users",
        headers=b_admin,
        json={"email": "admin@a.example", "password": "b's own password", "name": "Twice"},
    )
    assert again.status_code == 409 and again.json()["fields"] == {"email": ["already used"]}
    # Each password opens its own organisation's account.
    as_a = (await _login(auth_client, "admin@a.example", ADMIN_PASSWORD)).json()
    as_b = (await _login(auth_client, "admin@a.example", "b's own password")).json()
    assert (as_a["user"]["orgId"], as_a["user"]["role"]) == (a_admin["user"]["orgId"], "admin")
    assert (as_b["user"]["orgId"], as_b["user"]["name"]) == (b_org, "Namesake")
    # The same password in both: the oldest account, unless organizationId picks.
    b_user = (await auth_client.get("/auth/me", headers=bearer(as_b))).json()
    await auth_client.patch(
        f"/auth/users/{b_user['id']}", headers=b_admin, json={"password": ADMIN_PASSWORD}
    )
    oldest = (await _login(auth_client, "admin@a.example", ADMIN_PASSWORD)).json()
    chosen = await auth_client.post(
        "/auth/login",
        json={"email": "admin@a.example", "password": ADMIN_PASSWORD, "organizationId": b_org},
    )
    assert oldest["user"]["orgId"] == a_admin["user"]["orgId"]
    assert chosen.status_code == 200 and chosen.json()["user"]["orgId"] == b_org
    a_users = (await auth_client.get("/auth/users", headers=bearer(a_admin))).json()
    assert [u["name"] for u in a_users["items"]] == ["Ada"]


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    infrastructure: Infrastructure,
) -> None:
    async with _auth(
        infrastructure,
        TRUSTED_PROXIES="",  # not even loopback: this client is no proxy
        LOGIN_ADDRESS_FREE_FAILURES="2",
        LOGIN_ADDRESS_LOCK_AFTER_FAILURES="3",
        LOGIN_LOCK_SECONDS="60",
    ) as client:
        await setup_admin(client)
        for n in range(3):  # a new made-up address each time: all count as this client's
            answer = await _login(client, f"guess{n}@a.example", "wrong", f"198.51.100.{n}")
            assert answer.status_code == 401
        blocked = await _login(client, "admin@a.example", ADMIN_PASSWORD, "198.51.100.99")
        assert blocked.status_code == 429
