"""Router rules and the registration directory, without I/O."""

from __future__ import annotations

import pytest

from hyperstrate_contracts.catalog import RegistrationCreated, RegistrationDeleted
from hyperstrate_kit.errors import InvalidInputError
from hyperstrate_router.domain.model import (
    new_id,
    percentage_total_problem,
    require_percentage_total,
    stream_id,
)
from hyperstrate_router.infrastructure.registration_directory import RegistrationDirectory


def test_percentages_matter_only_for_the_percentage_strategy() -> None:
    assert percentage_total_problem("weighted", [80, 80]) is None
    assert percentage_total_problem("percentage", [33.33, 33.33, 33.34]) is None
    assert percentage_total_problem("percentage", []) is None
    problem = percentage_total_problem("percentage", [60, 40.5])
    assert problem is not None and "100.5" in problem
    with pytest.raises(InvalidInputError) as raised:
        require_percentage_total("percentage", [100, 1], field="strategy")
    assert list(raised.value.fields) == ["strategy"]


def test_ids_and_streams() -> None:
    router_id = new_id("rtr")
    assert router_id.startswith("rtr_") and len(router_id) == 36
    assert stream_id(router_id) == f"router-{router_id}"


async def test_the_directory_follows_registrations_and_their_owner() -> None:
    directory = RegistrationDirectory(nc=None)  # no catalog to ask: the stream's word stands
    directory.apply(
        RegistrationCreated(
            org_id="org_a",
            aggregate_id="reg_1",
            name="m",
            catalog_key="openai/gpt-4o-mini",
            provider="openai",
            model="gpt-4o-mini",
        )
    )
    assert await directory.exists("org_a", "reg_1")
    assert not await directory.exists("org_b", "reg_1")
    assert not await directory.exists("org_a", "reg_2")
    directory.apply(RegistrationDeleted(org_id="org_a", aggregate_id="reg_1"))
    assert not await directory.exists("org_a", "reg_1")
