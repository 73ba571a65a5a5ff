"""Databases are created on demand and migrated once, even by replicas starting together."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from hyperstrate_kit.database import KIT_MIGRATIONS, Database
from hyperstrate_kit.testing import Infrastructure, unique_name


async def test_replicas_starting_together_create_and_migrate_once(
    infrastructure: Infrastructure,
) -> None:
    name = unique_name("race")

    replicas = await asyncio.gather(
        *(
            Database.open(infrastructure.database_url, name, migrations=[KIT_MIGRATIONS])
            for _ in range(4)
        )
    )
    try:
        async with replicas[0].sessions() as session:
            versions = (
                await session.execute(text("SELECT version_num FROM kit_alembic_version"))
            ).all()
            tables = set(
                (
                    await session.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).scalars()
            )
        assert versions == [("kit_0001",)]
        assert {"event_store", "relay_cursor", "inbox", "kit_alembic_version"} <= tables
        assert all([await replica.ping() for replica in replicas])
    finally:
        await asyncio.gather(*(replica.close() for replica in replicas))
