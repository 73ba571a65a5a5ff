"""Probes a registration through `libs/providers`: list the provider's models, which costs no
tokens and exercises the URL, the network path and the credentials."""

from __future__ import annotations

import time

from hyperstrate_observability.application.ports import ProbeTarget
from hyperstrate_observability.domain.health import ProbeResult
from hyperstrate_providers import ErrorClass, ProviderClient, ProviderError

__all__ = ["ProviderHealthProbe"]


class ProviderHealthProbe:
    """A `HealthProbe` over a pooled `ProviderClient`."""

    def __init__(self, client: ProviderClient) -> None:
        self.client = client

    async def check(self, target: ProbeTarget) -> ProbeResult:
        """One probe; a rate-limited provider is up (it answered), just busy."""
        if target.config is None:
            return ProbeResult(ok=False, error="no credentials")
        started = time.perf_counter()
        try:
            await self.client.list_models(target.config)
        except ProviderError as exc:
            latency = (time.perf_counter() - started) * 1000
            if exc.error_class is ErrorClass.RATE_LIMITED:
                return ProbeResult(ok=True, latency_ms=latency, error=str(exc))
            return ProbeResult(ok=False, latency_ms=latency, error=str(exc))
        except ValueError as exc:  # a registration that cannot be called as configured
            return ProbeResult(ok=False, error=str(exc))
        return ProbeResult(ok=True, latency_ms=(time.perf_counter() - started) * 1000)
