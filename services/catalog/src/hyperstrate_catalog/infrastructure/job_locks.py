"""Per-job locks: a PostgreSQL session advisory lock held on its own connection while a
worker runs the job. A crashed worker's connection closes and its locks go with it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text

from hyperstrate_kit.database import Database, advisory_key

__all__ = ["AdvisoryJobLocks"]


class AdvisoryJobLocks:
    """`async with locks(job_id) as held`: held is False when another session holds it."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextlib.asynccontextmanager
    async def __call__(self, job_id: str) -> AsyncIterator[bool]:
        key = advisory_key(f"catalog.job.{job_id}")
        async with self.database.engine.connect() as conn:
            held = bool(
                (
                    await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
                ).scalar_one()
            )
            await conn.commit()  # end the implicit transaction; the session lock stays
            try:
                yield held
            finally:
                if held:
                    try:
                        await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                        await conn.commit()
                    except Exception:
                        # Never hand a connection that may still hold the lock back to the pool.
                        await conn.invalidate()
