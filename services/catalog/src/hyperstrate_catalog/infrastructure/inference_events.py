"""Publishes `inference.*` events to JetStream in the background, never losing one while the
process lives: a failed publish is retried with backoff, and shutdown drains the queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from nats.js import JetStreamContext

from hyperstrate_contracts import encode_event
from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_kit.telemetry import inject_headers

__all__ = ["InferenceEventPublisher"]

log = logging.getLogger(__name__)

InferenceEvent = InferenceCompleted | InferenceFailed


class InferenceEventPublisher:
    """`emit` queues (no I/O on the caller's path); `run` publishes with `Nats-Msg-Id` =
    event id, so a retry after an unacknowledged publish is dropped as a duplicate."""

    def __init__(
        self, js: JetStreamContext, *, max_pending: int = 100_000, publish_timeout: float = 5.0
    ) -> None:
        self.js = js
        self.max_pending = max_pending
        self.publish_timeout = publish_timeout
        self._pending: deque[tuple[InferenceEvent, dict[str, str]]] = deque()
        self._wake = asyncio.Event()
        self.published = 0

    @property
    def pending(self) -> int:
        """Events waiting to be published."""
        return len(self._pending)

    def emit(self, event: InferenceEvent) -> None:
        """Queue one event (with the current trace context) for publishing."""
        if len(self._pending) >= self.max_pending:
            dropped, _ = self._pending.popleft()
            log.error("inference event buffer full: dropped %s", dropped.event_id)
        self._pending.append((event, inject_headers({"Nats-Msg-Id": event.event_id})))
        self._wake.set()

    async def _publish_one(self) -> bool:
        event, headers = self._pending[0]
        try:
            await self.js.publish(
                event.type, encode_event(event), headers=headers, timeout=self.publish_timeout
            )
        except Exception as exc:
            log.warning("inference event %s not published yet: %s", event.event_id, exc)
            return False
        self._pending.popleft()
        self.published += 1
        return True

    async def run(self) -> None:
        """Publish until cancelled; on cancellation, try once more to drain (bounded)."""
        backoff = 0.2
        try:
            while True:
                if not self._pending:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if await self._publish_one():
                    backoff = 0.2
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.drain(), timeout=5.0)
            raise

    async def drain(self) -> None:
        """Publish everything queued now (stops at the first failure)."""
        while self._pending and await self._publish_one():
            pass
