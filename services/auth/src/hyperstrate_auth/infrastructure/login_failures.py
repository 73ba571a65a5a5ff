"""Failed-login counters in PostgreSQL: shared by every auth replica, kept across restarts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_auth.domain.throttle import FailureCount
from hyperstrate_auth.infrastructure.tables import login_failures

__all__ = ["PostgresLoginFailures"]


class PostgresLoginFailures:
    """The `login_failures` table, one row per (scope, hashed subject)."""

    async def counts(
        self, session: AsyncSession, subjects: Sequence[tuple[str, str]]
    ) -> list[FailureCount]:
        """The counts of these (scope, subject hash) pairs that have one."""
        query = select(login_failures).where(
            tuple_(login_failures.c.scope, login_failures.c.subject_hash).in_(list(subjects))
        )
        return [
            FailureCount(row.failures, row.last_failure_at, row.blocked_until)
            for row in (await session.execute(query)).all()
        ]

    async def locked_count(
        self, session: AsyncSession, scope: str, subject_hash: str, now: datetime
    ) -> FailureCount | None:
        """The subject's count, its row locked until the transaction ends (concurrent
        failures are counted one after the other, none lost)."""
        await session.execute(
            pg_insert(login_failures)
            .values(scope=scope, subject_hash=subject_hash, failures=0, last_failure_at=now)
            .on_conflict_do_nothing()
        )
        row = (
            await session.execute(
                select(login_failures)
                .where(
                    login_failures.c.scope == scope,
                    login_failures.c.subject_hash == subject_hash,
                )
                .with_for_update()
            )
        ).one()
        if row.failures == 0:
            return None
        return FailureCount(row.failures, row.last_failure_at, row.blocked_until)

    async def save(
        self, session: AsyncSession, scope: str, subject_hash: str, count: FailureCount
    ) -> None:
        """Store the subject's new count (its row exists: `locked_count` made it)."""
        await session.execute(
            update(login_failures)
            .where(login_failures.c.scope == scope, login_failures.c.subject_hash == subject_hash)
            .values(
                failures=count.failures,
                last_failure_at=count.last_failure_at,
                blocked_until=count.blocked_until,
            )
        )

    async def clear(self, session: AsyncSession, scope: str, subject_hash: str) -> None:
        """Forget the subject's failures."""
        await session.execute(
            delete(login_failures).where(
                login_failures.c.scope == scope, login_failures.c.subject_hash == subject_hash
            )
        )
