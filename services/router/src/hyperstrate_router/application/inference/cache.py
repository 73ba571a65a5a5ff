"""The response cache: exact match on the normalised request, with a TTL.

Non-streaming answers are stored as the response body; streamed answers as their frames, so
a hit on a streaming request is replayed as a stream.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any, Protocol

import msgspec

__all__ = ["CachedAnswer", "MemoryResponseCache", "ResponseCache", "cache_key"]

# Fields that change how an answer is delivered or billed, not what it says.
_IGNORED_FIELDS = ("stream", "stream_options", "user", "metadata")


class CachedAnswer(msgspec.Struct, frozen=True):
    """A stored answer: the body, or the stream's frames, and the usage it cost."""

    body: bytes = b""
    frames: tuple[bytes, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0


class ResponseCache(Protocol):
    """Where answers are kept."""

    async def get(self, key: str) -> CachedAnswer | None:
        """A live answer for the key."""
        ...

    async def put(self, key: str, answer: CachedAnswer, ttl_seconds: float) -> None:
        """Keep an answer for `ttl_seconds`."""
        ...


def cache_key(router_id: str, api: str, stream: bool, body: dict[str, Any]) -> str:
    """A key for the request: the same question to the same router gives the same key."""
    normalised = {k: v for k, v in body.items() if k not in _IGNORED_FIELDS}
    canonical = msgspec.json.encode(normalised, order="sorted")
    digest = hashlib.sha256(canonical).hexdigest()
    return f"{router_id}:{api}:{'s' if stream else 'n'}:{digest}"


class MemoryResponseCache:
    """An LRU of answers with per-entry expiry."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, CachedAnswer]] = OrderedDict()

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer if present and not expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, answer = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return answer

    async def put(self, key: str, answer: CachedAnswer, ttl_seconds: float) -> None:
        """Store, evicting the least recently used beyond `max_entries`."""
        self._entries[key] = (time.monotonic() + ttl_seconds, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
