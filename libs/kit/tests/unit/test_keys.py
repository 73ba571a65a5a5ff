"""The in-memory key projection."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hyperstrate_contracts import utc_now
from hyperstrate_contracts.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
    OrganizationDeleted,
    RouterTeamAccessGranted,
    RouterTeamAccessRevoked,
    UserCreated,
    UserDeleted,
    UserUpdated,
    VirtualKeyCreated,
    VirtualKeyUpdated,
)
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import acting_as, current_actor
from hyperstrate_kit.errors import UnauthorizedError
from hyperstrate_kit.keys import KeyAccess, KeyDirectory


def _directory() -> KeyDirectory:
    directory = KeyDirectory()
    directory.apply(
        UserCreated(org_id="o1", aggregate_id="u1", email="a@x", name="A", role="member")
    )
    directory.apply(
        ApiKeyCreated(
            org_id="o1",
            aggregate_id="k1",
            name="k",
            prefix="hs_x",
            key_hash="h1",
            user_id="u1",
            role="member",
        )
    )
    directory.apply(
        VirtualKeyCreated(
            org_id="o1",
            aggregate_id="v1",
            name="v",
            prefix="hsv_x",
            key_hash="h2",
            max_requests=5,
            rate_limit_rps=2.0,
        )
    )
    return directory


def test_lookup_finds_live_keys_only() -> None:
    directory = _directory()
    api_key, virtual_key = directory.lookup("h1"), directory.lookup("h2")
    assert api_key is not None and api_key.kind == "api_key" and api_key.user_id == "u1"
    assert (
        virtual_key is not None
        and virtual_key.max_requests == 5
        and virtual_key.rate_limit_rps == 2.0
    )
    assert directory.lookup("unknown") is None
    directory.apply(ApiKeyRevoked(org_id="o1", aggregate_id="k1", key_hash="h1"))
    assert directory.lookup("h1") is None and directory.lookup("h2") is not None


def test_expired_keys_are_not_found() -> None:
    directory = KeyDirectory()
    directory.apply(
        VirtualKeyCreated(
            org_id="o",
            aggregate_id="v",
            name="v",
            prefix="p",
            key_hash="h",
            expires_at=utc_now() + timedelta(seconds=30),
        )
    )
    assert directory.lookup("h") is not None
    assert directory.lookup("h", now=utc_now() + timedelta(seconds=31)) is None


def test_api_key_follows_its_user() -> None:
    directory = _directory()
    directory.apply(
        UserUpdated(org_id="o1", aggregate_id="u1", name="A", role="admin", team_id="t1")
    )
    identity = directory.lookup("h1")
    assert identity is not None and (identity.role, identity.team_id) == ("admin", "t1")
    directory.apply(UserDeleted(org_id="o1", aggregate_id="u1"))
    assert directory.lookup("h1") is None


def test_a_disabled_users_api_keys_stop_until_enabled() -> None:
    directory = _directory()
    directory.apply(
        UserUpdated(org_id="o1", aggregate_id="u1", name="A", role="member", disabled=True)
    )
    assert directory.lookup("h1") is None
    assert directory.lookup("h2") is not None  # a virtual key acts for no user
    directory.apply(UserUpdated(org_id="o1", aggregate_id="u1", name="A", role="member"))
    assert directory.lookup("h1") is not None


def test_deleted_organization_disables_every_key() -> None:
    directory = _directory()
    directory.apply(OrganizationDeleted(org_id="o1", aggregate_id="o1"))
    assert directory.lookup("h1") is None and directory.lookup("h2") is None


def test_virtual_key_updates_apply() -> None:
    directory = _directory()
    directory.apply(
        VirtualKeyUpdated(
            org_id="o1", aggregate_id="v1", name="v2", max_requests=9, router_ids=("r1",)
        )
    )
    identity = directory.lookup("h2")
    assert identity is not None and identity.max_requests == 9 and identity.name == "v2"
    assert identity.allows_router("r1") and not identity.allows_router("r2")
    # An update claiming another organisation changes nothing.
    directory.apply(VirtualKeyUpdated(org_id="o2", aggregate_id="v1", name="stolen"))
    assert directory.lookup("h2").name == "v2"  # type: ignore[union-attr]


def test_router_team_access_is_per_organization() -> None:
    directory = KeyDirectory()
    assert directory.router_allows_team("o1", "r1", None)  # no grants: open
    directory.apply(RouterTeamAccessGranted(org_id="o1", aggregate_id="r1", team_id="t1"))
    assert directory.router_allows_team("o1", "r1", "t1")
    assert not directory.router_allows_team("o1", "r1", "t2")
    assert not directory.router_allows_team("o1", "r1", None)
    assert directory.router_allows_team("o2", "r1", None)  # another org's router of the same id
    directory.apply(RouterTeamAccessRevoked(org_id="o1", aggregate_id="r1", team_id="t1"))
    assert directory.router_allows_team("o1", "r1", None)


def test_an_authenticated_key_is_the_actor_of_its_request() -> None:
    access = KeyAccess(_directory())
    with acting_as(Actor(kind="system", id="before")):  # stands for a request's open slot
        access.authenticate("h1")
        assert current_actor() == Actor(kind="api_key", id="k1")
        with pytest.raises(UnauthorizedError):
            access.authenticate("unknown")
        assert current_actor() == Actor(kind="api_key", id="k1")  # a refused key names nobody
