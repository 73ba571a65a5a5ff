"""SQLAlchemy 2 async on asyncpg: one database per service, migrations at start-up.

Each service owns a database (created if missing) and ships its Alembic scripts inside its
package. The kit's own tables (event store, relay cursor, inbox) are a migration set too,
with its own version table, applied first. Migrations run under a PostgreSQL advisory lock
so that two replicas starting together do not race.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = [
    "KIT_MIGRATIONS",
    "Database",
    "MigrationSet",
    "advisory_key",
    "database_unavailable",
    "database_url_for",
    "ensure_database",
    "run_alembic_env",
    "until_database_answers",
]


@dataclass(frozen=True, slots=True)
class MigrationSet:
    """Alembic scripts shipped inside a package, tracked in their own version table."""

    package: str  # e.g. "hyperstrate_auth.migrations"
    version_table: str

    @property
    def script_location(self) -> str:
        """The scripts' folder on disk."""
        return str(resources.files(self.package))


KIT_MIGRATIONS = MigrationSet("hyperstrate_kit.migrations", "kit_alembic_version")


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, derived from a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


#: What PostgreSQL (or the way to it) being away looks like through asyncpg: refused or
#: lost connections, a server starting or shutting down, no connection slot left.
_ASYNCPG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, ConnectionDoesNotExistError included
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: the server was stopped under the session
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.TooManyConnectionsError,  # 53300
)
#: The same through SQLAlchemy: pool timeouts, and the wrappers of the above.
_SQLALCHEMY_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sqlalchemy_errors.TimeoutError,  # QueuePool limit reached while connections hang
    sqlalchemy_errors.OperationalError,
    sqlalchemy_errors.InterfaceError,
)


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database is away (down, restarting, unreachable), not that a
    statement was wrong: the caller should retry shortly. Follows the causes SQLAlchemy
    and asyncpg chain, and counts a socket error (refused, reset) raised inside either."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _ASYNCPG_UNAVAILABLE + _SQLALCHEMY_UNAVAILABLE):
            return True
        if isinstance(current, sqlalchemy_errors.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (OSError, TimeoutError)) and _raised_by_database_driver(current):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


T = TypeVar("T")
log = logging.getLogger(__name__)


async def until_database_answers(
    attempt: Callable[[], Awaitable[T]],
    who: str,
    while_away: Callable[[], Awaitable[None]] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> T:
    """Await `attempt()` again and again while it fails only because the database is away
    (backoff 0.2 s doubling to 5 s, one warning per outage); `while_away` runs before each
    pause (e.g. to keep messages in progress). Any other error, or one while `stopping()`,
    is raised: a consumer keeps what it holds through a restart instead of dead-lettering it.
    """
    delay, waited = 0.2, False
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            if stopping() or not database_unavailable(exc):
                raise
            if not waited:
                log.warning("%s waits for the database (%s); retrying", who, type(exc).__name__)
                waited = True
            if while_away is not None:
                await while_away()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        else:
            if waited:
                log.info("%s: the database answers again", who)
            return result


def _raised_by_database_driver(exc: BaseException) -> bool:
    # asyncpg's connect lets ConnectionRefusedError through unwrapped, and SQLAlchemy does not
    # wrap it either; only its traceback tells it from any other socket's error.
    traceback = exc.__traceback__
    while traceback is not None:
        module = traceback.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        traceback = traceback.tb_next
    return False


def database_url_for(server_url: str, database: str) -> URL:
    """The asyncpg URL of `database` on the server that `server_url` points at."""
    url = make_url(server_url)
    return url.set(drivername="postgresql+asyncpg", database=database)


async def ensure_database(server_url: str, database: str) -> None:
    """Create `database` on the server if it does not exist (safe under concurrency)."""
    url = make_url(server_url)
    maintenance_db = url.database or "postgres"
    dsn = url.set(drivername="postgresql", database=maintenance_db).render_as_string(False)
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists:
            return
        # CREATE DATABASE copies template1 and fails while another copy of it is under way
        # (services start together): take turns.
        await conn.execute("SELECT pg_advisory_lock($1)", advisory_key("create-database"))
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            quoted = '"' + database.replace('"', '""') + '"'
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()  # also releases the session's advisory lock


def _upgrade(connection: Connection, migrations: MigrationSet) -> None:
    config = Config()
    config.set_main_option("script_location", migrations.script_location)
    config.attributes["connection"] = connection
    config.attributes["version_table"] = migrations.version_table
    command.upgrade(config, "head")


def run_alembic_env() -> None:
    """The body of every migrations/env.py: run online against the connection we pass in."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table=context.config.attributes["version_table"],
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


class Database:
    """A service's database: engine, session factory, migrations, readiness."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(
        cls,
        server_url: str,
        database: str,
        *,
        migrations: Sequence[MigrationSet] = (KIT_MIGRATIONS,),
        pool_size: int = 10,
        **engine_options: Any,
    ) -> Database:
        """Create the database if missing, connect, and apply migrations under a lock."""
        await ensure_database(server_url, database)
        engine = create_async_engine(
            database_url_for(server_url, database),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            **engine_options,
        )
        db = cls(engine)
        try:
            await db.migrate(migrations)
        except BaseException:
            await engine.dispose()
            raise
        return db

    async def migrate(self, migrations: Sequence[MigrationSet]) -> None:
        """Apply every migration set in order, holding a transaction-level advisory lock."""
        async with self.engine.begin() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key("migrations")}
            )
            for migration_set in migrations:
                await conn.run_sync(_upgrade, migration_set)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        """True when the database answers."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
