"""Event store contract against real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from kit_support import (
    WidgetCreated,
    WidgetProjection,
    WidgetRenamed,
    create_widget_tables,
    registry,
    widgets,
)
from sqlalchemy import select

from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import ConcurrencyError, EventStore


async def _rows(database: Database) -> list[tuple[object, ...]]:
    async with database.sessions() as session:
        result = await session.execute(select(widgets).order_by(widgets.c.id))
        return [tuple(row) for row in result.all()]


async def test_append_then_load_returns_events_in_version_order(database: Database) -> None:
    store = EventStore(database, registry)
    created = WidgetCreated(org_id="org1", aggregate_id="w1", name="first")
    renamed = WidgetRenamed(org_id="org1", aggregate_id="w1", name="second")

    await store.append("widget-w1", 0, [created])
    await store.append("widget-w1", 1, [renamed])

    loaded = await store.load("widget-w1")
    assert [s.version for s in loaded] == [1, 2]
    assert [type(s.event) for s in loaded] == [WidgetCreated, WidgetRenamed]
    assert loaded[1].event == WidgetRenamed(
        org_id="org1", aggregate_id="w1", name="second", aggregate_version=2,
        event_id=renamed.event_id, occurred_at=renamed.occurred_at,
    )  # fmt: skip
    assert loaded[0].position < loaded[1].position


async def test_two_concurrent_appends_at_same_version_one_wins(database: Database) -> None:
    store = EventStore(database, registry)
    await store.append("widget-w1", 0, [WidgetCreated(org_id="o", aggregate_id="w1", name="a")])

    results = await asyncio.gather(
        store.append("widget-w1", 1, [WidgetRenamed(org_id="o", aggregate_id="w1", name="b")]),
        store.append("widget-w1", 1, [WidgetRenamed(org_id="o", aggregate_id="w1", name="c")]),
        return_exceptions=True,
    )

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ConcurrencyError)
    assert errors[0].expected_version == 1 and errors[0].actual_version == 2
    assert [s.version for s in await store.load("widget-w1")] == [1, 2]


async def test_append_to_new_stream_with_wrong_expected_version_conflicts(
    database: Database,
) -> None:
    store = EventStore(database, registry)
    with pytest.raises(ConcurrencyError):
        await store.append("widget-w9", 3, [WidgetCreated(org_id="o", aggregate_id="w9", name="x")])
    assert await store.load("widget-w9") == []


async def test_projection_sees_write_in_same_transaction(database: Database) -> None:
    await create_widget_tables(database)
    store = EventStore(database, registry, [WidgetProjection()])

    await store.append("widget-w1", 0, [WidgetCreated(org_id="o", aggregate_id="w1", name="a")])

    assert await _rows(database) == [("w1", "o", "a", 0)]


async def test_failed_projection_rolls_back_the_append(database: Database) -> None:
    await create_widget_tables(database)
    store = EventStore(database, registry, [WidgetProjection()])
    await store.append("widget-w1", 0, [WidgetCreated(org_id="o", aggregate_id="w1", name="a")])

    # A second "created" for the same id breaks the read model's primary key.
    with pytest.raises(Exception, match="duplicate key"):
        await store.append(
            "widget-dup", 0, [WidgetCreated(org_id="o", aggregate_id="w1", name="b")]
        )

    assert await store.load("widget-dup") == []


async def test_rebuild_yields_the_same_rows_as_live_projection(database: Database) -> None:
    await create_widget_tables(database)
    store = EventStore(database, registry, [WidgetProjection()])
    for i in range(5):
        stream = f"widget-w{i}"
        await store.append(
            stream, 0, [WidgetCreated(org_id=f"org{i % 2}", aggregate_id=f"w{i}", name="n")]
        )
        for version in range(1, i + 1):
            renamed = WidgetRenamed(org_id=f"org{i % 2}", aggregate_id=f"w{i}", name=f"n{version}")
            await store.append(stream, version, [renamed])
    live = await _rows(database)

    replayed = await store.rebuild()

    assert replayed == 5 + sum(range(5))
    assert await _rows(database) == live
    assert live[4] == ("w4", "org0", "n4", 4)


async def test_a_tailing_reader_never_skips_an_event_under_concurrent_appends(
    database: Database,
) -> None:
    # The relay reads past its cursor; if a later position could commit before an earlier
    # one, the earlier event would be skipped for ever. Appends are serialised to prevent it.
    store = EventStore(database, registry)
    seen: list[int] = []
    writers_done = asyncio.Event()

    async def write(i: int) -> None:
        event = WidgetCreated(org_id="o", aggregate_id=f"c{i}", name="x")
        await store.append(f"widget-c{i}", 0, [event])

    async def tail() -> None:
        cursor = 0
        while True:
            finished = writers_done.is_set()
            for stored in await store.read_all(cursor, 7):
                seen.append(stored.position)
                cursor = stored.position
            if finished and not await store.read_all(cursor, 1):
                return

    tailer = asyncio.create_task(tail())
    await asyncio.gather(*(write(i) for i in range(60)))
    writers_done.set()
    await asyncio.wait_for(tailer, 10)

    all_positions = [e.position for e in await store.read_all(0, 1000)]
    assert len(all_positions) == 60
    assert seen == all_positions
