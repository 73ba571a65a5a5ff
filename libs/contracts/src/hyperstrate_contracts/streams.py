"""JetStream streams and durable consumers: the definitions every service provisions.

Streams are declared here, once, so that every service agrees on subjects and retention.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = [
    "AUTH",
    "CATALOG",
    "DEAD_LETTER",
    "INFERENCE",
    "JOBS",
    "OBSERVABILITY",
    "PROMPTS",
    "ROUTER",
    "STREAMS",
    "ConsumerSpec",
    "Retention",
    "StreamSpec",
    "dead_letter_subject",
]

DAY = 24 * 3600.0


class Retention(StrEnum):
    """How a stream keeps its messages."""

    LIMITS = "limits"
    WORK_QUEUE = "workqueue"


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A JetStream stream as the services expect it to exist."""

    name: str
    subjects: tuple[str, ...]
    description: str = ""
    retention: Retention = Retention.LIMITS
    max_age_seconds: float = 0.0  # 0: kept whole
    # Outlasts the relay's retry horizon, so a re-published event is dropped as duplicate.
    duplicate_window_seconds: float = 600.0


class ConsumerSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A durable pull consumer: explicit ack, bounded redelivery, then the dead-letter subject."""

    stream: str
    durable: str
    filter_subjects: tuple[str, ...] = ()
    description: str = ""
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    # Delay before each redelivery (the last one repeats); also used for nak(delay).
    backoff_seconds: tuple[float, ...] = (0.5, 2.0, 10.0, 30.0)
    max_ack_pending: int = 1000


AUTH = StreamSpec(name="AUTH", subjects=("auth.>",), description="auth service events")
CATALOG = StreamSpec(name="CATALOG", subjects=("catalog.>",), description="catalog events")
ROUTER = StreamSpec(name="ROUTER", subjects=("router.>",), description="router events")
PROMPTS = StreamSpec(name="PROMPTS", subjects=("prompts.>",), description="prompt events")
INFERENCE = StreamSpec(
    name="INFERENCE",
    subjects=("inference.>",),
    description="inference completed/failed events, kept by age",
    max_age_seconds=7 * DAY,
    duplicate_window_seconds=120.0,
)
JOBS = StreamSpec(
    name="JOBS",
    subjects=("jobs.>",),
    description="async inference jobs (work queue)",
    retention=Retention.WORK_QUEUE,
    duplicate_window_seconds=120.0,
)
OBSERVABILITY = StreamSpec(
    name="OBSERVABILITY",
    subjects=("observability.>",),
    description="observability events: registration health changes, webhook subscriptions",
    max_age_seconds=30 * DAY,
)
DEAD_LETTER = StreamSpec(
    name="DEAD_LETTER",
    subjects=("dlq.>",),
    description="messages a consumer gave up on after max deliveries",
    max_age_seconds=30 * DAY,
)

STREAMS: tuple[StreamSpec, ...] = (
    AUTH,
    CATALOG,
    ROUTER,
    PROMPTS,
    INFERENCE,
    JOBS,
    OBSERVABILITY,
    DEAD_LETTER,
)


def dead_letter_subject(consumer: ConsumerSpec) -> str:
    """The subject a consumer's poison messages are moved to."""
    return f"dlq.{consumer.stream.lower()}.{consumer.durable}"
