"""The event store: append with optimistic concurrency, load, projections, rebuild.

Appends take a transaction-level advisory lock, so events get their global `position` in
commit order and the relay, which reads past its cursor, never skips one that commits late.
Projections update read models in the append's own transaction: a read after a write sees it.
A NOTIFY on commit wakes the relay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import Event, EventRegistry
from hyperstrate_contracts.metadata import Actor, recorded_actor
from hyperstrate_kit.actors import event_metadata
from hyperstrate_kit.database import Database, advisory_key
from hyperstrate_kit.telemetry import TRACEPARENT, current_traceparent

__all__ = [
    "EVENTS_CHANNEL",
    "ConcurrencyError",
    "EventStore",
    "Projection",
    "StoredEvent",
    "event_store_table",
    "row_stamps",
    "update_row",
]

EVENTS_CHANNEL = "hyperstrate_events"
_APPEND_LOCK = advisory_key("event_store.append")

kit_metadata = MetaData()
event_store_table = Table(
    "event_store",
    kit_metadata,
    Column("position", BigInteger, primary_key=True),
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("org_id", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


class ConcurrencyError(Exception):
    """The stream moved on since it was loaded: reload and retry (HTTP 409)."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual_version}, expected {expected_version}"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as recorded: its global position and stream version, and the decoded event."""

    position: int
    stream_id: str
    version: int
    recorded_at: datetime
    event: Event
    metadata: dict[str, Any] = {}

    @property
    def actor(self) -> Actor | None:
        """Who made the change, as the writer recorded it (older events: the user their
        payload's `actor_id` named, if any)."""
        legacy = getattr(self.event, "actor_id", None)
        return recorded_actor(self.metadata, legacy if isinstance(legacy, str) else None)


class Projection(Protocol):
    """Keeps read-model tables up to date from events, inside the append's transaction."""

    #: The tables this projection owns; `rebuild` empties them before replaying.
    tables: Sequence[Table]

    async def apply(self, session: AsyncSession, stored: StoredEvent) -> None:
        """Update the read model for one event."""
        ...


def row_stamps(stored: StoredEvent) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a projection writes with every row: for a new row (id, org, created/updated
    time, version) and for a changed one (updated time, version)."""
    event = stored.event
    changed = {"version": stored.version, "updated_at": event.occurred_at}
    created = {"id": event.aggregate_id, "org_id": event.org_id,
               "created_at": event.occurred_at, **changed}  # fmt: skip
    return created, changed


async def update_row(session: AsyncSession, table: Table, row_id: str, **values: Any) -> None:
    """Update one read-model row by id."""
    await session.execute(update(table).where(table.c.id == row_id).values(**values))


class EventStore:
    """Appends and loads a service's events; runs its projections."""

    def __init__(
        self,
        database: Database,
        registry: EventRegistry,
        projections: Iterable[Projection] = (),
    ) -> None:
        self.database = database
        self.registry = registry
        self.projections = list(projections)

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[Event],
        *,
        session: AsyncSession | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[StoredEvent]:
        """Append `events` to `stream_id`, which must be at `expected_version` (0: new).

        Raises `ConcurrencyError` if another writer got there first. Pass `session` to
        make the append part of a larger transaction; otherwise it commits on its own.
        """
        if session is not None:
            return await self._append(session, stream_id, expected_version, events, metadata)
        try:
            async with self.database.transaction() as own_session:
                return await self._append(
                    own_session, stream_id, expected_version, events, metadata
                )
        except IntegrityError as exc:
            # The unique (stream_id, version) backstop, should the version check ever race.
            if "event_store_stream_version" not in str(exc.orig):
                raise
            raise ConcurrencyError(stream_id, expected_version, -1) from exc

    async def _append(
        self,
        session: AsyncSession,
        stream_id: str,
        expected_version: int,
        events: Sequence[Event],
        metadata: dict[str, Any] | None,
    ) -> list[StoredEvent]:
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
        current = await self.stream_version(stream_id, session=session)
        if current != expected_version:
            raise ConcurrencyError(stream_id, expected_version, current)
        # Who, in which request: named once per request or task, never by the use case.
        metadata = {**event_metadata(), **(metadata or {})}
        traceparent = current_traceparent()
        if traceparent:  # the relay sends it on, so consumers join the writer's trace
            metadata.setdefault(TRACEPARENT, traceparent)
        stored: list[StoredEvent] = []
        for offset, event in enumerate(events, start=1):
            version = expected_version + offset
            event = msgspec.structs.replace(event, aggregate_version=version)
            row = (
                await session.execute(
                    insert(event_store_table)
                    .values(
                        stream_id=stream_id,
                        version=version,
                        event_id=event.event_id,
                        type=event.type,
                        org_id=event.org_id,
                        data=msgspec.to_builtins(event),
                        metadata=metadata,
                    )
                    .returning(event_store_table.c.position, event_store_table.c.recorded_at)
                )
            ).one()
            record = StoredEvent(
                position=row.position,
                stream_id=stream_id,
                version=version,
                recorded_at=row.recorded_at,
                event=event,
                metadata=metadata,
            )
            for projection in self.projections:
                await projection.apply(session, record)
            stored.append(record)
        await session.execute(text(f"NOTIFY {EVENTS_CHANNEL}"))
        return stored

    async def lock_appends(self, session: AsyncSession) -> None:
        """Take the append lock now, for a check-then-append that must not interleave.

        Appends in the same transaction take it again harmlessly; it is held until commit.
        """
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})

    async def stream_version(self, stream_id: str, *, session: AsyncSession | None = None) -> int:
        """The stream's current version (0 when it has no events)."""
        query = select(func.coalesce(func.max(event_store_table.c.version), 0)).where(
            event_store_table.c.stream_id == stream_id
        )
        if session is not None:
            return int((await session.execute(query)).scalar_one())
        async with self.database.sessions() as own_session:
            return int((await own_session.execute(query)).scalar_one())

    async def load(self, stream_id: str) -> list[StoredEvent]:
        """Every event of one stream, in version order."""
        query = (
            select(event_store_table)
            .where(event_store_table.c.stream_id == stream_id)
            .order_by(event_store_table.c.version)
        )
        async with self.database.sessions() as session:
            rows = (await session.execute(query)).all()
        return [self._decode(row) for row in rows]

    async def read_all(self, after_position: int = 0, limit: int = 500) -> list[StoredEvent]:
        """Events of every stream past `after_position`, in global position order."""
        async with self.database.sessions() as session:
            return await self._read_page(session, after_position, limit)

    async def _read_page(
        self, session: AsyncSession, after_position: int, limit: int
    ) -> list[StoredEvent]:
        query = (
            select(event_store_table)
            .where(event_store_table.c.position > after_position)
            .order_by(event_store_table.c.position)
            .limit(limit)
        )
        return [self._decode(row) for row in (await session.execute(query)).all()]

    async def rebuild(self, batch_size: int = 1000) -> int:
        """Empty every projection's tables and replay the whole store, in one transaction.

        Returns the number of events replayed.
        """
        async with self.database.transaction() as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
            tables = [table for projection in self.projections for table in projection.tables]
            if tables:
                names = ", ".join(f'"{table.name}"' for table in tables)
                await session.execute(text(f"TRUNCATE {names}"))
            replayed, position = 0, 0
            while batch := await self._read_page(session, position, batch_size):
                for record in batch:
                    for projection in self.projections:
                        await projection.apply(session, record)
                replayed += len(batch)
                position = batch[-1].position
        return replayed

    def _decode(self, row: Any) -> StoredEvent:
        return StoredEvent(
            position=row.position,
            stream_id=row.stream_id,
            version=row.version,
            recorded_at=row.recorded_at,
            event=self.registry.decode(row.type, row.data),
            metadata=row.metadata,
        )
