"""KeyAccess: the key checks every ingress that reaches a provider shares."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from hyperstrate_contracts import utc_now
from hyperstrate_contracts.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
    Role,
    RouterTeamAccessGranted,
    TeamCreated,
    UserCreated,
    VirtualKeyCreated,
)
from hyperstrate_kit.errors import ForbiddenError, RateLimitedError, UnauthorizedError
from hyperstrate_kit.keys import (
    DIRECT_INFERENCE_RULE,
    KeyAccess,
    KeyDirectory,
    credential_of,
)


def _api_key(
    directory: KeyDirectory,
    key_hash: str,
    *,
    role: Role = "admin",
    team_id: str | None = None,
    router_ids: tuple[str, ...] = (),
) -> None:
    user_id = f"u-{key_hash}"
    directory.apply(
        UserCreated(
            org_id="o1", aggregate_id=user_id, email="a@x", name="A", role=role, team_id=team_id
        )
    )
    directory.apply(
        ApiKeyCreated(
            org_id="o1", aggregate_id=f"k-{key_hash}", name="k", prefix="hs_x",
            key_hash=key_hash, user_id=user_id, role=role, team_id=team_id,
            router_ids=router_ids,
        )
    )  # fmt: skip


def _virtual_key(directory: KeyDirectory, key_hash: str, rate: float | None = None) -> None:
    directory.apply(
        VirtualKeyCreated(
            org_id="o1", aggregate_id=f"v-{key_hash}", name="v", prefix="hsv_x",
            key_hash=key_hash, rate_limit_rps=rate,
        )
    )  # fmt: skip


def _refusal(access: KeyAccess, key_hash: str) -> str:
    with pytest.raises(ForbiddenError) as refused:
        access.admit_direct(access.authenticate(key_hash))
    return refused.value.message


def test_direct_inference_takes_only_an_unscoped_uncapped_admins_api_key() -> None:
    directory = KeyDirectory()
    directory.apply(TeamCreated(org_id="o1", aggregate_id="capped", name="c", max_requests=5))
    directory.apply(TeamCreated(org_id="o1", aggregate_id="open", name="o"))
    _api_key(directory, "org-wide", team_id="open")
    _api_key(directory, "scoped", router_ids=("r1",))
    _api_key(directory, "member", role="member")
    _api_key(directory, "in-capped-team", team_id="capped")
    _virtual_key(directory, "virtual")
    access = KeyAccess(directory)

    access.admit_direct(access.authenticate("org-wide"))  # no refusal
    reasons = {h: _refusal(access, h) for h in ("scoped", "member", "in-capped-team", "virtual")}
    assert reasons["scoped"].startswith("this key may only call its routers")
    assert "member" in reasons["member"]
    assert "team has a cap" in reasons["in-capped-team"]
    assert reasons["virtual"].startswith("a virtual key may only call routers")
    assert all(reason.endswith(DIRECT_INFERENCE_RULE) for reason in reasons.values())


def test_a_revoked_or_expired_key_is_unauthorized_wherever_it_is_presented() -> None:
    directory = KeyDirectory()
    directory.apply(
        UserCreated(org_id="o1", aggregate_id="u-h1", email="a@x", name="A", role="admin")
    )
    directory.apply(
        ApiKeyCreated(
            org_id="o1", aggregate_id="k-h1", name="k", prefix="hs_x", key_hash="h1",
            user_id="u-h1", role="admin", expires_at=utc_now() + timedelta(hours=1),
        )
    )  # fmt: skip
    access = KeyAccess(directory)
    access.authenticate("h1")
    with pytest.raises(UnauthorizedError):
        access.authenticate("h1", now=utc_now() + timedelta(days=1))
    directory.apply(ApiKeyRevoked(org_id="o1", aggregate_id="k-h1", key_hash="h1"))
    with pytest.raises(UnauthorizedError, match="invalid, revoked or expired API key"):
        access.authenticate("h1")


def test_router_admission_checks_scope_team_access_and_the_keys_rate() -> None:
    directory = KeyDirectory()
    _api_key(directory, "scoped", router_ids=("r1",))
    _virtual_key(directory, "slow", rate=1.0)
    directory.apply(RouterTeamAccessGranted(org_id="o1", aggregate_id="r2", team_id="t1"))
    access = KeyAccess(directory)
    scoped, slow = access.authenticate("scoped"), access.authenticate("slow")

    access.admit_router("o1", "r1", scoped)
    with pytest.raises(ForbiddenError, match="may not use this router"):
        access.admit_router("o1", "r3", scoped)
    with pytest.raises(ForbiddenError, match="restricted to other teams"):
        access.admit_router("o1", "r2", None)  # a session has no team
    access.admit_router("o1", "r1", slow)
    with pytest.raises(RateLimitedError) as limited:
        access.admit_router("o1", "r1", slow)
    assert 0 < limited.value.retry_after <= 1


def test_direct_inference_spends_the_same_bucket_as_router_routes() -> None:
    directory = KeyDirectory()
    _api_key(directory, "h1")
    access = KeyAccess(directory)
    identity = access.authenticate("h1")
    # API keys carry no rate today; one that does is limited the same at /ai.
    limited_identity = msgspec.structs.replace(identity, rate_limit_rps=1.0)
    access.admit_router("o1", "r1", limited_identity)
    with pytest.raises(RateLimitedError):
        access.admit_direct(limited_identity)


def test_credential_of_reads_bearer_then_x_api_key() -> None:
    assert credential_of({"authorization": "Bearer  hs_a "}) == "hs_a"
    assert credential_of({"authorization": "Basic x", "x-api-key": "hsv_b"}) == "hsv_b"
    assert credential_of({}) == ""
