"""The webhook read model, updated from events in the append's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts.observability import (
    WebhookCreated,
    WebhookDeleted,
    WebhookSecretRotated,
    WebhookUpdated,
)
from hyperstrate_kit.eventstore import StoredEvent
from hyperstrate_observability.infrastructure.tables import PROJECTION_TABLES, webhooks

__all__ = ["WebhookProjection"]


class WebhookProjection:
    """Each webhook's current URL, event types, switch and secret age."""

    tables: Sequence[Table] = PROJECTION_TABLES

    async def apply(self, session: AsyncSession, stored: StoredEvent) -> None:
        """Apply one event to the read model (health events have none here)."""
        event = stored.event
        at = event.occurred_at
        row = webhooks.c.id == event.aggregate_id
        match event:
            case WebhookCreated():
                await session.execute(
                    insert(webhooks).values(
                        id=event.aggregate_id,
                        org_id=event.org_id,
                        router_id=event.router_id,
                        url=event.url,
                        event_types=list(event.event_types),
                        enabled=event.enabled,
                        created_by=stored.actor.id if stored.actor else None,
                        managed_by=event.managed_by,
                        stream_version=stored.version,
                        secret_rotated_at=at,
                        created_at=at,
                        updated_at=at,
                    )
                )
            case WebhookUpdated():
                await session.execute(
                    update(webhooks)
                    .where(row)
                    .values(
                        url=event.url,
                        event_types=list(event.event_types),
                        enabled=event.enabled,
                        stream_version=stored.version,
                        updated_at=at,
                    )
                )
            case WebhookSecretRotated():
                await session.execute(
                    update(webhooks)
                    .where(row)
                    .values(secret_rotated_at=at, stream_version=stored.version, updated_at=at)
                )
            case WebhookDeleted():
                await session.execute(delete(webhooks).where(row))
