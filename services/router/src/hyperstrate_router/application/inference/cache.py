"""The response cache: exact match on the normalised request, with a TTL, and at most the
router's `maxEntries` answers per router.

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
    """Where answers are kept: per router (`scope`), at most its `maxEntries`."""

    async def get(self, key: str) -> CachedAnswer | None:
        """A live answer for the key."""
        ...

    async def put(
        self, key: str, answer: CachedAnswer, ttl_seconds: float, *, scope: str, max_entries: int
    ) -> None:
        """Keep an answer for `ttl_seconds`; `scope` (the router) keeps at most `max_entries`."""
        ...


def cache_key(router_id: str, api: str, stream: bool, body: dict[str, Any]) -> str:
    """A key for the request: the same question to the same router gives the same key."""
    normalised = {k: v for k, v in body.items() if k not in _IGNORED_FIELDS}
    canonical = msgspec.json.encode(normalised, order="sorted")
    digest = hashlib.sha256(canonical).hexdigest()
    return f"{router_id}:{api}:{'s' if stream else 'n'}:{digest}"


class MemoryResponseCache:
    """An LRU of answers per router, bounded by the router's `maxEntries`, each entry expiring
    with its TTL. One router's traffic never evicts another's answers."""

    def __init__(self) -> None:
        self._scopes: dict[str, OrderedDict[str, tuple[float, CachedAnswer]]] = {}
        self._scope_of: dict[str, str] = {}

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer if present and not expired."""
        scope = self._scope_of.get(key)
        if scope is None:
            return None
        entries = self._scopes[scope]
        expires, answer = entries[key]
        if expires < time.monotonic():
            self._drop(scope, key)
            return None
        entries.move_to_end(key)
        return answer

    async def put(
        self, key: str, answer: CachedAnswer, ttl_seconds: float, *, scope: str, max_entries: int
    ) -> None:
        """Store, evicting the scope's least recently used beyond `max_entries`."""
        previous = self._scope_of.get(key)
        if previous is not None and previous != scope:
            self._drop(previous, key)
        entries = self._scopes.setdefault(scope, OrderedDict())
        entries[key] = (time.monotonic() + ttl_seconds, answer)
        entries.move_to_end(key)
        self._scope_of[key] = scope
        while len(entries) > max_entries:
            evicted, _ = entries.popitem(last=False)
            del self._scope_of[evicted]

    def _drop(self, scope: str, key: str) -> None:
        entries = self._scopes[scope]
        del entries[key], self._scope_of[key]
        if not entries:
            del self._scopes[scope]
