"""Retention: rows older than `LOG_RETENTION_DAYS` are deleted in small batches.

Each batch is its own short transaction (a few thousand rows located through an index),
so the purge never holds long locks and the consumer keeps writing meanwhile. Daily usage
roll-ups are kept: they are the long-term record of spend.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, text

from hyperstrate_kit.database import Database

__all__ = ["PURGED_TABLES", "RetentionPurger"]

#: (table, timestamp column, extra condition)
PURGED_TABLES: tuple[tuple[str, str, str], ...] = (
    ("inference_logs", "occurred_at", ""),
    ("inference_payloads", "occurred_at", ""),
    ("audit_log", "occurred_at", ""),
    ("health_checks", "checked_at", ""),
    ("webhook_deliveries", "created_at", "AND status <> 'pending'"),
)


class RetentionPurger:
    """Deletes what has aged out."""

    def __init__(self, database: Database, retention_days: int, batch_size: int = 5000) -> None:
        self.database = database
        self.retention = timedelta(days=retention_days)
        self.batch_size = batch_size

    async def purge(self, now: datetime) -> dict[str, int]:
        """Delete every row older than the retention period; returns the counts per table."""
        cutoff = now - self.retention
        counts: dict[str, int] = {}
        for table, column, condition in PURGED_TABLES:
            statement = text(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
                f"SELECT ctid FROM {table} WHERE {column} < :cutoff {condition} LIMIT :batch))"
            )
            total = 0
            while True:
                async with self.database.transaction() as session:
                    result = await session.execute(
                        statement, {"cutoff": cutoff, "batch": self.batch_size}
                    )
                    deleted = cast(CursorResult[Any], result).rowcount
                total += deleted
                if deleted < self.batch_size:
                    break
            counts[table] = total
        return counts
