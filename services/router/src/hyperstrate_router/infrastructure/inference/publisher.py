"""Inference events off the critical path, never lost.

`emit` only queues. A background task publishes to JetStream (`Nats-Msg-Id` = event id, so a
retry is harmless). While NATS is away the events wait in memory; past `max_in_memory` they
spill to a file under DATA_DIR and are published, oldest first, when NATS is back.
`emit_later` queues an event's builder (a payload capture): the task builds it when it takes
it, once, so the encoding happens after the answer has left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import cast

import msgspec
from nats.aio.client import Client as NatsClient

from hyperstrate_contracts.inference import (
    InferenceCompleted,
    InferenceFailed,
    InferencePayloadCaptured,
)
from hyperstrate_kit.bus import coalesced_writes

__all__ = ["InferenceEventPublisher"]

log = logging.getLogger(__name__)
InferenceEvent = InferenceCompleted | InferenceFailed | InferencePayloadCaptured
EventBuilder = Callable[[], InferenceEvent]
_decoder = msgspec.json.Decoder(InferenceEvent)


class InferenceEventPublisher:
    """Queues, publishes, and spills to disk when it must."""

    def __init__(
        self,
        nc: NatsClient,
        spill_file: Path,
        *,
        max_in_memory: int = 10_000,
        publish_timeout: float = 2.0,
        linger_seconds: float = 0.02,
    ) -> None:
        self.nc, self.js = nc, nc.jetstream()
        self.spill_file = spill_file
        self.max_in_memory = max_in_memory
        self.publish_timeout = publish_timeout
        self.linger_seconds = linger_seconds
        self._queue: deque[InferenceEvent | EventBuilder] = deque()
        self._wake = asyncio.Event()
        self._spilled = spill_file.exists()  # kept in memory: no file check per event
        self.published = 0

    @property
    def pending(self) -> int:
        """Events not yet on JetStream (in memory)."""
        return len(self._queue)

    def emit(self, event: InferenceEvent) -> None:
        """Queue one event; spill to disk past the memory bound."""
        self._enqueue(event)

    def emit_later(self, build: EventBuilder) -> None:
        """Queue an event that `build` makes when it is taken for publication."""
        self._enqueue(build)

    def _enqueue(self, item: InferenceEvent | EventBuilder) -> None:
        if len(self._queue) >= self.max_in_memory:
            self._spill(item)
        else:
            self._queue.append(item)
        self._wake.set()

    def _spill(self, item: InferenceEvent | EventBuilder) -> None:
        event = _built(item)
        if event is None:
            return
        self.spill_file.parent.mkdir(parents=True, exist_ok=True)
        with self.spill_file.open("ab") as file:
            file.write(msgspec.json.encode(event) + b"\n")
        self._spilled = True

    def _front(self, count: int) -> list[InferenceEvent]:
        """The first `count` queued events, builders built in place (once: an event keeps
        its id across retries); one that cannot be built is dropped."""
        index = 0
        while index < min(count, len(self._queue)):
            event = _built(self._queue[index])
            if event is None:
                del self._queue[index]
                continue
            self._queue[index] = event
            index += 1
        return [cast(InferenceEvent, self._queue[i]) for i in range(index)]

    def _reload_spilled(self) -> None:
        """Move spilled events back in memory once there is room (oldest first)."""
        if not self._spilled or len(self._queue) >= self.max_in_memory // 2:
            return
        lines = self.spill_file.read_bytes().splitlines()
        room = self.max_in_memory - len(self._queue)
        for line in lines[:room]:
            self._queue.append(_decoder.decode(line))
        rest = lines[room:]
        if rest:
            self.spill_file.write_bytes(b"\n".join(rest) + b"\n")
        else:
            self.spill_file.unlink()
            self._spilled = False

    async def run(self, batch_size: int = 256) -> None:
        """Publish until cancelled, a batch at a time (acks awaited together); what fails
        stays queued, in order, and is retried with backoff."""
        backoff = 0.1
        while True:
            if not self._queue:
                self._reload_spilled()
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                # Let a batch gather: one write and one burst of acks for many requests,
                # instead of waking this process per event while requests are in flight.
                await asyncio.sleep(self.linger_seconds)
                continue
            batch = self._front(batch_size)
            acknowledged = await self._publish(batch)
            for _ in range(acknowledged):
                self._queue.popleft()
            self.published += acknowledged
            if acknowledged < len(batch):  # NATS away or slow: keep the rest, try again
                log.warning("inference events waiting for NATS: %d", self.pending)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = 0.1

    async def _publish(self, batch: list[InferenceEvent]) -> int:
        """How many events from the front of `batch` JetStream acknowledged."""
        try:
            with coalesced_writes(self.nc):  # one socket write for the batch
                futures = [
                    await self.js.publish_async(
                        event.type,
                        msgspec.json.encode(event),
                        headers={"Nats-Msg-Id": event.event_id},
                    )
                    for event in batch
                ]
        except Exception:
            return 0
        await asyncio.wait(futures, timeout=self.publish_timeout)
        for index, future in enumerate(futures):
            if not future.done() or future.cancelled() or future.exception() is not None:
                for unanswered in futures[index:]:
                    unanswered.cancel()
                return index  # the ones after it go again (the duplicate window drops repeats)
        return len(futures)

    async def flush(self, timeout: float = 5.0) -> None:
        """Publish what is queued (at shutdown); what is left stays on disk."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._queue:
                    await asyncio.sleep(0.01)
        for event in self._queue:
            self._spill(event)
        self._queue.clear()


def _built(item: InferenceEvent | EventBuilder) -> InferenceEvent | None:
    """The event, built if it is a builder; None (logged) when building fails: a payload
    capture is not worth stopping the events behind it."""
    if not callable(item):
        return item
    try:
        return item()
    except Exception:
        log.exception("an inference event could not be built: dropped")
        return None
