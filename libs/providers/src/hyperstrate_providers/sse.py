"""Server-sent events: an incremental parser for byte streams and a frame encoder."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SseEvent", "SseParser", "encode_sse"]


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One event: its ``event:`` name (empty when absent) and its ``data:`` lines joined."""

    event: str
    data: str


class SseParser:
    """Turns arbitrary byte slices of an SSE stream into complete events.

    Feed bytes as they arrive; each call returns the events completed so far. Comment lines
    (``:``) and ``id:``/``retry:`` fields are ignored.
    """

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Add bytes; return the events they complete."""
        lines = (self._buffer + chunk).split(b"\n")
        self._buffer = lines.pop()
        events: list[SseEvent] = []
        for line in lines:
            event = self._take_line(line.removesuffix(b"\r").decode("utf-8"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SseEvent]:
        """End of stream: the last event if its lines were complete but the closing blank line
        never came (a lenient reading some servers need); a truncated line is dropped."""
        self._buffer = b""
        event = self._take_line("")
        return [event] if event is not None else []

    @property
    def pending(self) -> bool:
        """Whether bytes of an unfinished event are buffered."""
        return bool(self._buffer.strip() or self._data)

    def _take_line(self, line: str) -> SseEvent | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = SseEvent(self._event, "\n".join(self._data))
            self._event = ""
            self._data = []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


def encode_sse(data: bytes, event: str | None = None) -> bytes:
    """One SSE frame with a single-line ``data`` (JSON has no raw newlines)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
