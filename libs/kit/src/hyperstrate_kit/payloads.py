"""Bodies larger than a NATS message, parked in a JetStream object store and passed by name.

The inference hop is one NATS message each way. A body that would not fit the server's
`max_payload` goes to a bucket instead and the message carries its name; the reader takes
the object (read, then delete), and the bucket's TTL sweeps what nobody came for. Small
bodies, nearly all of them, never touch the store.
"""

from __future__ import annotations

import asyncio
import io
import uuid

from nats.aio.client import Client as NatsClient
from nats.js import api
from nats.js.object_store import ObjectStore

__all__ = ["PayloadMissing", "PayloadStore"]

# Room in a message for what travels beside the body (ids, caller, headers).
ENVELOPE_HEADROOM = 16 * 1024


class PayloadMissing(Exception):
    """The named body is not (or no longer) in the store."""


class PayloadStore:
    """Park and take large bodies. The bucket is created on first use (most never need it)."""

    def __init__(
        self,
        nc: NatsClient,
        bucket: str,
        *,
        replicas: int = 1,
        ttl_seconds: float = 900.0,
        max_bytes: int = 1 << 30,
    ) -> None:
        self.nc = nc
        self.bucket = bucket
        self._config = api.ObjectStoreConfig(
            description="inference bodies too large for one NATS message; taken once",
            ttl=ttl_seconds,
            max_bytes=max_bytes,
            storage=api.StorageType.FILE,
            replicas=replicas,
        )
        self._store: ObjectStore | None = None
        self._lock = asyncio.Lock()

    def fits_in_message(self, size: int) -> bool:
        """Whether a body of `size` bytes can travel inside the message itself."""
        return size <= self.nc.max_payload - ENVELOPE_HEADROOM

    def split(self, data: bytes) -> list[bytes]:
        """`data` in pieces that each fit a message (for stream frames, which concatenate)."""
        size = self.nc.max_payload - ENVELOPE_HEADROOM
        if len(data) <= size:
            return [data]
        return [data[i : i + size] for i in range(0, len(data), size)]

    async def park(self, data: bytes) -> str:
        """Store a body; its name to put in the message."""
        store = await self._open()
        name = uuid.uuid4().hex
        await store.put(name, data)
        return name

    async def take(self, name: str) -> bytes:
        """Read a parked body and delete it."""
        store = await self._open()
        buffer = io.BytesIO()  # chunks are written into it, not concatenated as bytes
        try:
            await store.get(name, writeinto=buffer)
        except Exception as exc:  # the library raises several kinds for "not there"
            raise PayloadMissing(name) from exc
        await store.delete(name)
        return buffer.getvalue()

    async def _open(self) -> ObjectStore:
        if self._store is None:
            async with self._lock:
                if self._store is None:
                    js = self.nc.jetstream()
                    self._store = await js.create_object_store(self.bucket, self._config)
        return self._store
