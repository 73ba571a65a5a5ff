"""The router's chat probe (`health_check` with `probe: "chat"`): a one-token chat per target
when due, its outcome into the target's breaker; other routers are never probed."""

from __future__ import annotations

from typing import Any

from hyperstrate_contracts.catalog import Credentials
from hyperstrate_providers import ErrorClass, ProviderError, WireObject
from hyperstrate_router.application.inference.health_probes import ChatHealthProbes
from hyperstrate_router.application.inference.state import RouterState, RouterTable, Target
from hyperstrate_router.application.inference.target_health import TargetHealth
from hyperstrate_router.domain.features import parse_feature_config


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Catalog:
    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        return Credentials(
            registration_id=registration_id, org_id=org_id, provider="openai", model=registration_id
        )


class Upstream:
    """Fails the models in `failing` with the given class; records every request."""

    def __init__(self, failing: dict[str, ErrorClass] | None = None) -> None:
        self.failing = failing or {}
        self.requests: list[dict[str, Any]] = []

    async def complete(self, config: Any, request: WireObject[Any]) -> Any:
        self.requests.append(request.raw)
        error = self.failing.get(request.raw["model"])
        if error is not None:
            raise ProviderError(error, "scripted", provider="openai")
        return object()


def _routers(probe: str = "chat") -> RouterTable:
    routers = RouterTable()
    config = {"probe": probe, "failureThreshold": 1, "recheckSeconds": 30}
    routers.by_id["r"] = RouterState(
        id="r",
        org_id="o",
        name="r",
        strategy="failover",
        targets={
            "a": Target(id="a", registration_id="model-a"),
            "b": Target(id="b", registration_id="model-b"),
        },
        features={"health_check": parse_feature_config("health_check", config)},
    )
    return routers


def _probes(routers: RouterTable, upstream: Upstream) -> tuple[ChatHealthProbes, Clock]:
    clock = Clock()
    health = TargetHealth(clock)
    return ChatHealthProbes(routers, Catalog(), upstream, health, clock=clock), clock  # type: ignore[arg-type]


async def test_each_target_gets_a_one_token_chat_once_per_recheck_period() -> None:
    upstream = Upstream()
    probes, clock = _probes(_routers(), upstream)
    assert await probes.probe_due() == 2
    assert {r["model"] for r in upstream.requests} == {"model-a", "model-b"}
    assert all(r["max_tokens"] == 1 for r in upstream.requests)
    clock.now += 29
    assert await probes.probe_due() == 0
    clock.now += 1
    assert await probes.probe_due() == 2


async def test_a_failed_chat_opens_the_target_and_a_busy_one_does_not() -> None:
    routers = _routers()
    upstream = Upstream({"model-a": ErrorClass.AUTH, "model-b": ErrorClass.RATE_LIMITED})
    probes, _ = _probes(routers, upstream)
    await probes.probe_due()
    router, config = routers.by_id["r"], routers.by_id["r"].features["health_check"]
    assert not probes.health.available("r", router.targets["a"], config)  # type: ignore[arg-type]
    assert probes.health.available("r", router.targets["b"], config)  # type: ignore[arg-type]


async def test_a_router_on_the_models_probe_is_never_chat_probed() -> None:
    upstream = Upstream()
    probes, _ = _probes(_routers(probe="models"), upstream)
    assert await probes.probe_due() == 0 and upstream.requests == []
