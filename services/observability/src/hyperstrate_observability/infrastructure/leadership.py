"""One replica at a time: work that must not run twice (probing, purging) runs while this
process holds a PostgreSQL session advisory lock; when it dies, another replica takes over."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from hyperstrate_kit.database import Database, advisory_key
from hyperstrate_kit.supervisor import dependency_unavailable

__all__ = ["run_as_leader"]

log = logging.getLogger(__name__)


async def run_as_leader(
    database: Database,
    name: str,
    work: Callable[[], Coroutine[Any, Any, None]],
    *,
    poll_seconds: float = 5.0,
) -> None:
    """Run `work` (a loop) while holding the lock `name`; until cancelled.

    If the lock's connection dies, `work` is cancelled (another replica may lead now) and
    this process queues for the lock again.
    """
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    key = advisory_key(name)
    unreachable = False  # warn once per outage, not at every attempt
    while True:
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError) as exc:
            if not unreachable:
                log.warning("%s: cannot reach the database: %s", name, exc)
            unreachable = True
            await asyncio.sleep(poll_seconds)
            continue
        unreachable = False
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                await asyncio.sleep(poll_seconds)
            log.info("%s: leading", name)
            task = asyncio.create_task(work(), name=f"leader:{name}")
            try:
                while not task.done():
                    await asyncio.wait({task}, timeout=poll_seconds)
                    if not task.done():
                        await conn.fetchval("SELECT 1")  # raises when the lock is gone
                task.result()
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("%s: lost the lock's connection: %s", name, exc)
        except Exception as exc:  # the work failed: log it, let go of the lock, start again
            if dependency_unavailable(exc):
                log.warning("%s: lost the database: %s", name, type(exc).__name__)
            else:
                log.exception("%s: failed", name)
            await asyncio.sleep(poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(conn.close(timeout=2))
