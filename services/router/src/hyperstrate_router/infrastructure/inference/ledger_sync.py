"""The memory budget ledger's view of spend it did not settle itself.

At start-up, before the router takes a request, the ledger is rebuilt: observability answers
what every cap subject spent per period up to a cutoff a little in the past, and the
INFERENCE stream replays what happened from the cutoff on (observability may not have
logged the last seconds yet). The split is on the event's own `occurred_at`, so no inference
counts twice and none is missed. The stream is then followed live, so spend billed by other
router replicas reaches this one too: with the memory backend, a cap shared by replicas can be
overshot by no more than what is in flight on the others (`RATE_LIMIT_BACKEND=redis` is
exact).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NatsClient

from hyperstrate_contracts import Event
from hyperstrate_contracts.budgets import BUDGET_SPEND_SUBJECT, BudgetSpend, BudgetSpendRequest
from hyperstrate_contracts.inference import (
    InferenceCompleted,
    InferenceFailed,
    inference_registry,
)
from hyperstrate_kit.bus import RemoteError, ServiceUnavailable, request
from hyperstrate_kit.service import Runtime
from hyperstrate_router.application.inference.limits import MemoryBudgetLedger

__all__ = ["LedgerSync"]

log = logging.getLogger(__name__)

#: How far back the stream replay reaches: observability has logged what is older.
REPLAY_WINDOW = timedelta(seconds=60)
#: Stream timestamps come from the NATS server's clock, `occurred_at` from the routers'.
CLOCK_SKEW = timedelta(seconds=30)
PRUNE_INTERVAL_SECONDS = 600.0


class LedgerSync:
    """Rebuilds a memory ledger from observability and the INFERENCE stream, then keeps it
    current with what the other replicas bill."""

    def __init__(
        self,
        nc: NatsClient,
        ledger: MemoryBudgetLedger,
        timeout: float = 60.0,
        request_timeout: float = 5.0,
    ) -> None:
        self.nc, self.ledger = nc, ledger
        self.timeout, self.request_timeout = timeout, request_timeout
        self.cutoff = datetime.now(UTC) - REPLAY_WINDOW

    async def run_before(self, runtime: Runtime[Any], serve: Callable[[], Awaitable[Any]]) -> None:
        """Rebuild the ledger, then `serve` (join the inference queue group): requests never
        meet a ledger that has forgotten what was spent. Ready once `serve` has run."""
        follower = await runtime.follow(
            "inference.>",
            self._observe,
            inference_registry(),
            start_time=self.cutoff - CLOCK_SKEW,
        )
        restored = asyncio.Event()

        async def rebuild_then_serve() -> None:
            await self._restore()
            await follower.caught_up.wait()
            await serve()
            restored.set()
            await self._prune_periodically()

        async def ledger_restored() -> bool:
            return restored.is_set()

        runtime.readiness.append(("budget-ledger", ledger_restored))
        runtime.spawn(rebuild_then_serve(), "budget-ledger")

    def _observe(self, event: Event) -> None:
        if isinstance(event, InferenceCompleted | InferenceFailed) and (
            event.occurred_at >= self.cutoff
        ):
            self.ledger.observe(event)

    async def _restore(self) -> None:
        """Every page of observability's answer; retried while observability is starting."""
        deadline, after, subjects = time.monotonic() + self.timeout, "", 0
        while True:
            question = BudgetSpendRequest(cutoff=self.cutoff, after=after)
            try:
                page = await request(
                    self.nc,
                    BUDGET_SPEND_SUBJECT,
                    question,
                    BudgetSpend,
                    timeout=self.request_timeout,
                )
            except (ServiceUnavailable, RemoteError) as exc:
                if time.monotonic() > deadline:
                    log.error(
                        "budget ledger: observability did not answer (%s); caps count only "
                        "the spend since %s",
                        exc,
                        self.cutoff.isoformat(),
                    )
                    return
                await asyncio.sleep(0.5)
                continue
            for spend in page.items:
                self.ledger.restore(spend)
            subjects += len(page.items)
            if page.next_after is None:
                log.info("budget ledger restored: %d subjects spent before the cutoff", subjects)
                return
            after = page.next_after

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
            self.ledger.forget_past_periods()
