"""Events, subjects and stream definitions shared across hyperstrate services.

This is the only code two services share about each other.
"""

from hyperstrate_contracts.events import (
    Event,
    EventRegistry,
    UnknownEventType,
    encode_event,
    new_event_id,
    utc_now,
)
from hyperstrate_contracts.streams import (
    AUTH,
    CATALOG,
    DEAD_LETTER,
    INFERENCE,
    JOBS,
    OBSERVABILITY,
    PROMPTS,
    ROUTER,
    STREAMS,
    ConsumerSpec,
    Retention,
    StreamSpec,
    dead_letter_subject,
)

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
    "Event",
    "EventRegistry",
    "Retention",
    "StreamSpec",
    "UnknownEventType",
    "dead_letter_subject",
    "encode_event",
    "new_event_id",
    "utc_now",
]
