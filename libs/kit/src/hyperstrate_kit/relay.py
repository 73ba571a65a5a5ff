"""The outbox relay: publishes the event store to JetStream, in position order, at least once.

Each event goes to the subject named by its type with `Nats-Msg-Id` = its event id, so the
stream's duplicate window drops a re-publish after a crash; its metadata (actor, request id,
`traceparent`) travels as headers. The cursor advances only past
acknowledged events. One relay per database is active at a time (a session advisory lock);
the others wait to take over. LISTEN/NOTIFY wakes it as soon as an append commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
import msgspec
from nats.js import JetStreamContext
from sqlalchemy import text

from hyperstrate_contracts.metadata import metadata_headers
from hyperstrate_kit.database import advisory_key
from hyperstrate_kit.eventstore import EVENTS_CHANNEL, EventStore, StoredEvent
from hyperstrate_kit.metrics import RELAY_LAG, RELAY_PUBLISHED

__all__ = ["OutboxRelay"]

log = logging.getLogger(__name__)


class OutboxRelay:
    """Moves stored events to JetStream; run it as a background task of the service."""

    def __init__(
        self,
        store: EventStore,
        js: JetStreamContext,
        *,
        name: str = "jetstream",
        batch_size: int = 256,
        idle_poll_seconds: float = 2.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.js = js
        self.name = name
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self.published_position = 0

    async def run(self) -> None:
        """Relay until cancelled, taking over leadership when it becomes free.

        Raises when the database goes away (refused, reset, restarted): run it under the
        kit's supervisor (`Runtime.spawn`), which starts it again with a capped backoff; it
        then resumes from the cursor it saved.
        """
        url = self.store.database.engine.url.set(drivername="postgresql")
        conn = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)
        try:
            await self._lead(conn)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.close(timeout=2))

    async def _lead(self, conn: asyncpg.Connection) -> None:
        key = advisory_key(f"relay.{self.name}")
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            await asyncio.sleep(self.idle_poll_seconds)
        await conn.add_listener(EVENTS_CHANNEL, lambda *_: self._wake.set())
        self.published_position = await self._load_cursor()
        log.info("relay leading from position %d", self.published_position)
        while True:
            if conn.is_closed():  # the lock and the LISTEN went with it: lead anew
                raise asyncpg.ConnectionDoesNotExistError("the relay's connection was lost")
            self._wake.clear()
            if await self.publish_pending():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.idle_poll_seconds)

    async def publish_pending(self) -> int:
        """Publish one batch past the cursor; returns how many events were published."""
        batch = await self.store.read_all(self.published_position, self.batch_size)
        published = 0
        for stored in batch:
            try:
                await self._publish(stored)
            except Exception as exc:  # NATS away or timing out: keep the cursor, retry later
                log.warning("relay publish failed at position %d: %s", stored.position, exc)
                await asyncio.sleep(0.5)
                break
            published += 1
            RELAY_LAG.observe(max(0.0, time.time() - stored.recorded_at.timestamp()))
        if published:
            self.published_position = batch[published - 1].position
            await self._save_cursor(self.published_position)
            RELAY_PUBLISHED.inc(published)
        return published

    async def _publish(self, stored: StoredEvent) -> None:
        # The metadata (actor, request id, trace) rides in headers: the body stays the event.
        headers = {"Nats-Msg-Id": stored.event.event_id, **metadata_headers(stored.metadata)}
        await self.js.publish(
            stored.event.type,
            msgspec.json.encode(stored.event),
            headers=headers,
            timeout=self.publish_timeout,
        )

    async def _load_cursor(self) -> int:
        async with self.store.database.sessions() as session:
            position = (
                await session.execute(
                    text("SELECT position FROM relay_cursor WHERE name = :name"),
                    {"name": self.name},
                )
            ).scalar_one_or_none()
        return int(position or 0)

    async def _save_cursor(self, position: int) -> None:
        async with self.store.database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO relay_cursor (name, position) VALUES (:name, :position) "
                    "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, "
                    "updated_at = now()"
                ),
                {"name": self.name, "position": position},
            )
