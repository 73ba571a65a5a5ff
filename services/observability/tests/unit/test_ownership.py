"""The ids of other services' teams, virtual keys and routers, per organisation."""

from __future__ import annotations

import asyncio
import time

from hyperstrate_contracts.auth import TeamCreated, VirtualKeyCreated
from hyperstrate_contracts.router import RouterCreated, RouterDeleted
from hyperstrate_observability.infrastructure.ownership import OwnedIds


async def test_an_id_is_owned_by_the_organisation_that_created_it_only() -> None:
    owned = OwnedIds(grace=0.05)
    owned.apply(TeamCreated(org_id="org_a", aggregate_id="team_1", name="t"))
    owned.apply(VirtualKeyCreated(org_id="org_a", aggregate_id="vk_1", name="v", prefix="p",
                                  key_hash="h"))  # fmt: skip
    owned.apply(RouterCreated(org_id="org_a", aggregate_id="rtr_1", name="r"))
    assert await owned.owns("org_a", "team", "team_1")
    assert await owned.owns("org_a", "virtual_key", "vk_1")
    assert await owned.owns("org_a", "router", "rtr_1")
    assert not await owned.owns("org_b", "team", "team_1")
    assert not await owned.owns("org_a", "virtual_key", "team_1")  # a team is not a key
    assert not await owned.owns("org_a", "team", "team_never")


async def test_a_deleted_router_is_forgotten() -> None:
    owned = OwnedIds(grace=0.05)
    owned.apply(RouterCreated(org_id="org_a", aggregate_id="rtr_1", name="r"))
    owned.apply(RouterDeleted(org_id="org_b", aggregate_id="rtr_1"))  # not its organisation
    assert await owned.owns("org_a", "router", "rtr_1")
    owned.apply(RouterDeleted(org_id="org_a", aggregate_id="rtr_1"))
    assert not await owned.owns("org_a", "router", "rtr_1")


async def test_an_id_still_on_its_way_is_waited_for() -> None:
    owned = OwnedIds(grace=5.0)
    asking = asyncio.ensure_future(owned.owns("org_a", "router", "rtr_new"))
    await asyncio.sleep(0)  # the question is waiting
    owned.apply(RouterCreated(org_id="org_b", aggregate_id="rtr_other", name="r"))
    await asyncio.sleep(0)
    assert not asking.done()  # another id arrived: still waiting
    owned.apply(RouterCreated(org_id="org_a", aggregate_id="rtr_new", name="r"))
    assert await asyncio.wait_for(asking, 1.0)


async def test_another_organisations_id_takes_as_long_as_one_that_never_was() -> None:
    owned = OwnedIds(grace=0.2)
    owned.apply(TeamCreated(org_id="org_b", aggregate_id="team_b", name="t"))
    timings = []
    for team in ("team_b", "team_never"):
        started = time.monotonic()
        assert not await owned.owns("org_a", "team", team)
        timings.append(time.monotonic() - started)
    assert all(0.19 <= took < 1.0 for took in timings), timings
