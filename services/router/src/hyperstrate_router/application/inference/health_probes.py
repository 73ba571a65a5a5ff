"""`health_check` with `probe: "chat"`: the router's active probe, off the hot path.

Observability's catalog-wide probe lists a provider's models, which costs nothing but says
nothing of whether the model answers. A router that asks for `chat` probes each of its
targets itself, every `recheckSeconds`, with a one-token chat; the outcome goes into the same
breaker as real requests (`TargetHealth`), under the router's own `failureThreshold`. The
probe runs here, not in observability, because the breaker it feeds lives in each router
replica's memory: every replica probes (one token per target per `recheckSeconds` each).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from hyperstrate_providers import ErrorClass, ProviderClient, ProviderError, WireObject
from hyperstrate_providers.openai_types import ChatCompletionRequest
from hyperstrate_router.application.inference.state import RouterState, RouterTable, Target
from hyperstrate_router.application.inference.target_health import Outcome, TargetHealth
from hyperstrate_router.application.inference.target_inference import (
    CatalogPort,
    provider_config,
)
from hyperstrate_router.domain.features import HealthCheckConfig

__all__ = ["ChatHealthProbes"]

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 10.0
_PROBE_MESSAGES = [{"role": "user", "content": "ping"}]


class ChatHealthProbes:
    """Probes the targets of every router whose `health_check` asks for `chat` when due."""

    def __init__(
        self,
        routers: RouterTable,
        catalog: CatalogPort,
        providers: ProviderClient,
        health: TargetHealth,
        *,
        clock: Callable[[], float] = time.monotonic,
        concurrency: int = 8,
    ) -> None:
        self.routers, self.catalog, self.providers = routers, catalog, providers
        self.health, self.clock = health, clock
        self._limit = asyncio.Semaphore(concurrency)
        self._last_probe: dict[tuple[str, str], float] = {}

    async def run(self, tick_seconds: float = 1.0) -> None:
        """Probe what is due, every tick, until cancelled."""
        while True:
            try:
                await self.probe_due()
            except Exception:  # a probe round must never end the loop
                log.exception("health probes failed")
            await asyncio.sleep(tick_seconds)

    async def probe_due(self) -> int:
        """One round: every target due for a probe is probed once; returns how many."""
        now = self.clock()
        probed = [
            (router, target, config)
            for router, config in self._probing_routers()
            for target in router.live_targets()
        ]
        # Only targets still probed keep their last time: removed ones do not pile up.
        last = {(r.id, t.id): self._last_probe.get((r.id, t.id)) for r, t, _ in probed}
        due = [
            (router, target, config)
            for router, target, config in probed
            if (at := last[(router.id, target.id)]) is None or now - at >= config.recheck_seconds
        ]
        for router, target, _ in due:
            last[(router.id, target.id)] = now
        self._last_probe = {key: at for key, at in last.items() if at is not None}
        await asyncio.gather(*(self._probe(*item) for item in due))
        return len(due)

    def _probing_routers(self) -> list[tuple[RouterState, HealthCheckConfig]]:
        probing = []
        for router in self.routers.by_id.values():
            config = router.features.get("health_check")
            if router.enabled and isinstance(config, HealthCheckConfig) and config.probe == "chat":
                probing.append((router, config))
        return probing

    async def _probe(self, router: RouterState, target: Target, config: HealthCheckConfig) -> None:
        async with self._limit:
            outcome = await self._chat(router.org_id, target.registration_id)
        if outcome is not None:
            self.health.record(router.id, target, config, outcome)

    async def _chat(self, org_id: str, registration_id: str) -> Outcome | None:
        """A one-token chat: our own request, so any failure but a busy upstream counts."""
        try:
            credentials = await self.catalog.credentials(org_id, registration_id)
        except LookupError:
            return None  # the registration is gone; its target will follow
        except ProviderError:  # its base URL may not be called: as good as down
            return Outcome.FAILURE
        request = WireObject.from_raw(
            {"model": credentials.model, "messages": _PROBE_MESSAGES, "max_tokens": 1},
            ChatCompletionRequest,
        )
        try:
            await asyncio.wait_for(
                self.providers.complete(provider_config(credentials), request),
                PROBE_TIMEOUT_SECONDS,
            )
        except ProviderError as error:
            busy = error.error_class is ErrorClass.RATE_LIMITED
            return Outcome.NEUTRAL if busy else Outcome.FAILURE
        except (TimeoutError, ValueError):  # no answer in time; not callable as configured
            return Outcome.FAILURE
        return Outcome.SUCCESS
