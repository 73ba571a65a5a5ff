"""Health monitoring: probe every registration, keep its status and recent history, and
publish a `RegistrationHealthChanged` event when what we report about it changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts.observability import RegistrationHealthChanged
from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_observability.application.ports import HealthProbe, ProbeTarget, RegistrationSource
from hyperstrate_observability.domain.health import HealthState, ProbeResult, next_state
from hyperstrate_observability.infrastructure.metrics import REGISTRATION_HEALTHY
from hyperstrate_observability.infrastructure.tables import health_checks, registration_health

__all__ = ["HealthMonitor", "health_stream"]

log = logging.getLogger(__name__)


def health_stream(registration_id: str) -> str:
    """The event stream of one registration's health."""
    return f"registration-health-{registration_id}"


class HealthMonitor:
    """One probing round at a time; the caller schedules rounds (one leader at a time)."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        source: RegistrationSource,
        probe: HealthProbe,
        *,
        failure_threshold: int = 2,
        probe_timeout: float = 10.0,
        concurrency: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.store = store
        self.source = source
        self.probe = probe
        self.failure_threshold = failure_threshold
        self.probe_timeout = probe_timeout
        self.concurrency = concurrency
        self.clock = clock

    async def run_round(self) -> int:
        """Probe every registration once; returns how many changed health."""
        targets = await self.source.targets()
        limit = asyncio.Semaphore(self.concurrency)

        async def probe(target: ProbeTarget) -> ProbeResult:
            async with limit:
                try:
                    return await asyncio.wait_for(self.probe.check(target), self.probe_timeout)
                except TimeoutError:
                    return ProbeResult(ok=False, error=f"no answer in {self.probe_timeout:g}s")
                except Exception as exc:  # a probe must never stop the round
                    return ProbeResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])

        probed = [target for target in targets if target.config is not None]
        results = await asyncio.gather(*(probe(target) for target in probed))
        changed = 0
        for target, result in zip(probed, results, strict=True):
            changed += await self._record(target, result)
        await self._forget_others([target.registration_id for target in targets])
        return changed

    async def _record(self, target: ProbeTarget, result: ProbeResult) -> bool:
        now = self.clock()
        async with self.database.transaction() as session:
            previous = await self._state(session, target.registration_id)
            state, changed = next_state(previous, result, self.failure_threshold)
            await session.execute(
                insert(health_checks).values(
                    registration_id=target.registration_id,
                    org_id=target.org_id,
                    ok=result.ok,
                    latency_ms=result.latency_ms,
                    error=result.error[:1000],
                    checked_at=now,
                )
            )
            values = {
                "org_id": target.org_id,
                "provider": target.provider,
                "model": target.model,
                "healthy": state.healthy,
                "reason": state.reason[:1000],
                "consecutive_failures": state.consecutive_failures,
                "latency_ms": result.latency_ms,
                "last_checked_at": now,
            }
            statement = pg_insert(registration_health).values(
                registration_id=target.registration_id, changed_at=now, **values
            )
            if changed:
                values["changed_at"] = now
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[registration_health.c.registration_id], set_=values
                )
            )
            if changed:
                stream = health_stream(target.registration_id)
                version = await self.store.stream_version(stream, session=session)
                event = RegistrationHealthChanged(
                    org_id=target.org_id,
                    aggregate_id=target.registration_id,
                    registration_id=target.registration_id,
                    healthy=state.healthy,
                    reason=state.reason[:1000],
                    provider=target.provider,
                    model=target.model,
                    latency_ms=result.latency_ms,
                    checked_at=now,
                )
                await self.store.append(stream, version, [event], session=session)
        REGISTRATION_HEALTHY.labels(target.registration_id, target.provider, target.model).set(
            1 if state.healthy else 0
        )
        if changed and previous is not None:
            log.warning(
                "registration %s (%s %s) is now %s%s",
                target.registration_id, target.provider, target.model,
                "healthy" if state.healthy else "unhealthy",
                f": {state.reason}" if state.reason else "",
            )  # fmt: skip
        return changed

    async def _state(self, session: AsyncSession, registration_id: str) -> HealthState | None:
        h = registration_health.c
        row = (
            await session.execute(
                select(h.healthy, h.consecutive_failures, h.reason)
                .where(h.registration_id == registration_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        return HealthState(row.healthy, row.consecutive_failures, row.reason)

    async def _forget_others(self, current: Sequence[str]) -> None:
        # Registrations gone from the catalog leave the status list (their history ages out).
        async with self.database.transaction() as session:
            await session.execute(
                delete(registration_health).where(
                    registration_health.c.registration_id.not_in(list(current))
                )
            )
