"""A durable pull consumer that hands its handler whole batches (the kit's handles one
message at a time, one transaction each, which caps logging at a few hundred events/s).

Fetch up to N messages, decode them, let the handler write them in one transaction, then
ack them all; the handler is idempotent by event id, so a batch that is redelivered after a
crash between commit and ack changes nothing. When a batch fails, its messages are retried
one by one, so a single poison message is dead-lettered on its own instead of blocking the
others. Undecodable messages are dead-lettered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Generic, TypeVar

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from hyperstrate_contracts import ConsumerSpec
from hyperstrate_kit.bus import dead_letter
from hyperstrate_kit.database import until_database_answers
from hyperstrate_kit.metrics import CONSUMER_HANDLED, CONSUMER_LAG

__all__ = ["BatchConsumer"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class BatchConsumer(Generic[T]):
    """Runs `handle` over batches of a durable pull consumer until cancelled."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        decode: Callable[[Msg], T],
        handle: Callable[[Sequence[tuple[T, Msg]]], Awaitable[None]],
        *,
        batch_size: int = 500,
        fetch_timeout: float = 1.0,
    ) -> None:
        self.js = js
        self.spec = spec
        self.decode = decode
        self.handle = handle
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.handled = 0

    async def run(self) -> None:
        """Fetch and handle batches until cancelled (in-hand messages are nak'ed then)."""
        subscription = await self.js.pull_subscribe_bind(
            durable=self.spec.durable, stream=self.spec.stream
        )
        try:
            while True:
                try:
                    messages = await subscription.fetch(self.batch_size, timeout=self.fetch_timeout)
                except (NatsTimeoutError, TimeoutError):
                    continue
                except Exception as exc:  # connection trouble: back off, keep going
                    log.warning("consumer %s fetch failed: %s", self.spec.durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                await self.process(messages)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def process(self, messages: Sequence[Msg]) -> None:
        """Handle one fetched batch: decode, write, ack (or retry one by one)."""
        decoded: list[tuple[T, Msg]] = []
        for msg in messages:
            try:
                decoded.append((self.decode(msg), msg))
            except Exception as exc:
                await self._dead_letter(msg, f"undecodable message: {exc}")
        if not decoded:
            return
        try:
            await self._handle_until_database_answers(decoded)
        except asyncio.CancelledError:
            await _nak_all(msg for _, msg in decoded)
            raise
        except Exception as exc:
            if len(decoded) == 1:
                await self._failed(decoded[0][1], exc)
                return
            log.warning(
                "consumer %s: a batch of %d failed (%s); retrying one by one",
                self.spec.durable, len(decoded), exc,
            )  # fmt: skip
            for index, item in enumerate(decoded):
                try:
                    await self.handle([item])
                except asyncio.CancelledError:
                    await _nak_all(msg for _, msg in decoded[index:])
                    raise
                except Exception as item_exc:
                    await self._failed(item[1], item_exc)
                else:
                    await self._ack([item[1]])
            return
        await self._ack([msg for _, msg in decoded])

    async def _handle_until_database_answers(self, decoded: list[tuple[T, Msg]]) -> None:
        # While the database is away the batch stays in hand (kept in progress) and is
        # written again once it answers: naking it would spend its deliveries and, past the
        # backoff, dead-letter logs that only waited for a restart.
        async def keep_in_hand() -> None:
            for _, msg in decoded:
                with contextlib.suppress(Exception):
                    await msg.in_progress()

        await until_database_answers(
            lambda: self.handle(decoded), f"consumer {self.spec.durable}", keep_in_hand
        )

    async def _ack(self, messages: Sequence[Msg]) -> None:
        now = time.time()
        lag = CONSUMER_LAG.labels(self.spec.durable)
        for msg in messages:
            await msg.ack()
            lag.observe(max(0.0, now - msg.metadata.timestamp.timestamp()))
        CONSUMER_HANDLED.labels(self.spec.durable, "acked").inc(len(messages))
        self.handled += len(messages)

    async def _failed(self, msg: Msg, exc: Exception) -> None:
        attempt = msg.metadata.num_delivered
        if attempt >= self.spec.max_deliver:
            await self._dead_letter(msg, f"{type(exc).__name__}: {exc}")
            return
        log.warning(
            "consumer %s failed on %s (attempt %d): %s",
            self.spec.durable,
            msg.subject,
            attempt,
            exc,
        )
        delays = self.spec.backoff_seconds or (1.0,)
        await msg.nak(delay=delays[min(attempt - 1, len(delays) - 1)])
        CONSUMER_HANDLED.labels(self.spec.durable, "retried").inc()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        await dead_letter(self.js, self.spec, msg, reason)
        CONSUMER_HANDLED.labels(self.spec.durable, "dead_lettered").inc()


async def _nak_all(messages: Iterable[Msg]) -> None:
    # Shutting down with messages in hand: hand them back now rather than after ack_wait.
    for msg in messages:
        with contextlib.suppress(Exception):
            await msg.nak()
