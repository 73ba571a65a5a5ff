"""The inference consumer's handler: one batch, one transaction, then metrics and a nudge to
the webhook dispatcher."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nats.aio.msg import Msg

from hyperstrate_contracts import ConsumerSpec, Event
from hyperstrate_contracts.inference import inference_registry
from hyperstrate_kit.database import Database
from hyperstrate_observability.infrastructure.log_writer import InferenceLogWriter
from hyperstrate_observability.infrastructure.metrics import (
    LOG_BATCHES,
    LOG_LAG,
    record_inferences,
)

__all__ = ["InferenceIngestion", "decode_inference", "inference_consumer"]

_REGISTRY = inference_registry()


def decode_inference(msg: Msg) -> Event:
    """The inference event a message carries (its subject names the type)."""
    return _REGISTRY.decode(msg.subject, msg.data)


def inference_consumer(prefix: str, ack_wait_seconds: float, batch_size: int) -> ConsumerSpec:
    """The durable consumer of `inference.>` (enough unacked room for two batches in flight
    per replica)."""
    return ConsumerSpec(
        stream="INFERENCE",
        durable=f"{prefix}-inference",
        description="observability: inference logs, usage, webhooks",
        max_deliver=10,
        ack_wait_seconds=ack_wait_seconds,
        backoff_seconds=(1.0, 5.0, 15.0, 30.0, 60.0),
        max_ack_pending=max(10_000, batch_size * 8),
    )


class InferenceIngestion:
    """Writes batches of inference events (see `InferenceLogWriter`)."""

    def __init__(
        self,
        database: Database,
        writer: InferenceLogWriter,
        on_deliveries: Callable[[], None] = lambda: None,
    ) -> None:
        self.database = database
        self.writer = writer
        self.on_deliveries = on_deliveries

    async def handle(self, batch: Sequence[tuple[Event, Msg]]) -> None:
        """Write one batch in one transaction; raises to have it retried."""
        async with self.database.transaction() as session:
            result = await self.writer.write(session, [(event, msg.data) for event, msg in batch])
        committed = time.time()
        LOG_BATCHES.observe(len(batch))
        for log in result.new_logs:
            LOG_LAG.observe(max(0.0, committed - log.event.occurred_at.timestamp()))
        record_inferences(log.event for log in result.new_logs)
        if result.deliveries:
            self.on_deliveries()
