"""The event envelope every service publishes, and the registry that decodes events by type.

An event is a frozen msgspec Struct tagged with its type, which is also its NATS subject
(`<service>.<aggregate>.<event>`, past tense). The envelope fields live on the base class so
that every event carries them; a service's events add their own payload fields.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

__all__ = [
    "Event",
    "EventRegistry",
    "UnknownEventType",
    "new_event_id",
    "utc_now",
]


_random = random.Random()  # seeded from os.urandom at import


def new_event_id() -> str:
    """A new time-ordered (UUIDv7-style) event id as text."""
    # uuid7 ordering keeps ids roughly sortable by time, which helps inbox indexes.
    millis = int(datetime.now(UTC).timestamp() * 1000)
    rand = _random.getrandbits(74)  # seeded from os.urandom; no syscall per id
    value = (
        (millis << 80)
        | (0x7 << 76)
        | ((rand >> 62) << 64)
        | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every domain event.

    Subclasses set their type with the Struct `tag` option, which doubles as the NATS
    subject, e.g. ``class ApiKeyRevoked(Event, tag="auth.api_key.revoked")``.
    ``version`` is the schema version of the payload; bump it on a breaking change and
    register an upcaster with the registry.
    """

    org_id: str
    aggregate_id: str
    aggregate_version: int = 0
    event_id: str = msgspec.field(default_factory=new_event_id)
    occurred_at: datetime = msgspec.field(default_factory=utc_now)
    version: int = 1

    @property
    def type(self) -> str:
        """The event type, which is also its NATS subject."""
        return type(self).__struct_config__.tag  # type: ignore[return-value]


E = TypeVar("E", bound=Event)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(LookupError):
    """Raised when decoding an event type that no registry entry knows."""


class EventRegistry:
    """Maps event types to their Struct classes, decodes payloads and upcasts old versions."""

    def __init__(self, event_types: Iterable[type[Event]] = ()) -> None:
        self._types: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for event_type in event_types:
            self.register(event_type)

    def register(self, event_type: type[E]) -> type[E]:
        """Register an event class (usable as a decorator)."""
        tag = event_type.__struct_config__.tag
        if not isinstance(tag, str):
            raise TypeError(f"{event_type.__name__} needs a string tag (its event type)")
        self._types[tag] = event_type
        return event_type

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning payload version `from_version` into `from_version + 1`."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorate

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._types

    @property
    def types(self) -> tuple[str, ...]:
        """Every registered event type."""
        return tuple(self._types)

    def decode(self, event_type: str, data: bytes | dict[str, Any]) -> Event:
        """Decode one event of `event_type` from JSON bytes or a mapping, upcasting as needed."""
        cls = self._types.get(event_type)
        if cls is None:
            raise UnknownEventType(event_type)
        raw = msgspec.json.decode(data) if isinstance(data, bytes | bytearray) else dict(data)
        raw["type"] = event_type
        version = int(raw.get("version", 1))
        while (event_type, version) in self._upcasters:
            raw = self._upcasters[(event_type, version)](raw)
            version += 1
            raw["version"] = version
        return msgspec.convert(raw, cls)


def encode_event(event: Event) -> bytes:
    """JSON bytes of an event, including its `type` tag."""
    return msgspec.json.encode(event)


__all__ += ["encode_event"]
