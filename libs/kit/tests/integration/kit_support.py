"""Test events, a projection, and a fresh JetStream stream for the kit's integration tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import Event, EventRegistry, StreamSpec
from hyperstrate_kit.bus import provision_streams
from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import StoredEvent


class WidgetCreated(Event, frozen=True, kw_only=True, tag="kittest.widget.created"):
    name: str


class WidgetRenamed(Event, frozen=True, kw_only=True, tag="kittest.widget.renamed"):
    name: str


registry = EventRegistry([WidgetCreated, WidgetRenamed])
TEST_STREAM = StreamSpec(name="KITTEST", subjects=("kittest.>",), duplicate_window_seconds=60)

metadata = MetaData()
widgets = Table(
    "widgets",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("renames", Integer, nullable=False),
)


class WidgetProjection:
    """Keeps the `widgets` read model."""

    tables: Sequence[Table] = (widgets,)

    async def apply(self, session: AsyncSession, stored: StoredEvent) -> None:
        event = stored.event
        if isinstance(event, WidgetCreated):
            await session.execute(
                insert(widgets).values(
                    id=event.aggregate_id, org_id=event.org_id, name=event.name, renames=0
                )
            )
        elif isinstance(event, WidgetRenamed):
            await session.execute(
                update(widgets)
                .where(widgets.c.id == event.aggregate_id)
                .values(name=event.name, renames=widgets.c.renames + 1)
            )


async def create_widget_tables(database: Database) -> None:
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


@pytest_asyncio.fixture
async def test_stream(nats_client: NatsClient) -> AsyncIterator[JetStreamContext]:
    """A fresh KITTEST stream for one test."""
    js = nats_client.jetstream()
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(TEST_STREAM.name)
    await provision_streams(js, [TEST_STREAM])
    yield js
