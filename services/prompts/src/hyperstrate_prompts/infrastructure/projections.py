"""The prompts read models, updated from events in the append's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts.prompts import (
    PromptCreated,
    PromptDeleted,
    PromptRestored,
    PromptUpdated,
)
from hyperstrate_kit.eventstore import StoredEvent
from hyperstrate_prompts.infrastructure.tables import PROJECTION_TABLES, prompt_versions, prompts

__all__ = ["PromptProjection"]


class PromptProjection:
    """The current state of each prompt, and every version it ever had."""

    tables: Sequence[Table] = PROJECTION_TABLES

    async def apply(self, session: AsyncSession, stored: StoredEvent) -> None:
        """Apply one event to the read model."""
        event = stored.event
        match event:
            case PromptCreated() | PromptUpdated() | PromptRestored():
                state = {
                    "name": event.name,
                    "description": event.description,
                    "text": event.text,
                    "variables": list(event.variables),
                    "version": event.version_number,
                    "stream_version": stored.version,
                    "updated_at": event.occurred_at,
                }
                if isinstance(event, PromptCreated):
                    await session.execute(
                        insert(prompts).values(
                            id=event.aggregate_id,
                            org_id=event.org_id,
                            created_at=event.occurred_at,
                            **state,
                        )
                    )
                else:
                    await session.execute(
                        update(prompts).where(prompts.c.id == event.aggregate_id).values(**state)
                    )
                await session.execute(
                    insert(prompt_versions).values(
                        prompt_id=event.aggregate_id,
                        version=event.version_number,
                        org_id=event.org_id,
                        name=event.name,
                        description=event.description,
                        text=event.text,
                        variables=list(event.variables),
                        restored_from=(
                            event.restored_from if isinstance(event, PromptRestored) else None
                        ),
                        created_by=stored.actor.id if stored.actor else None,
                        created_at=event.occurred_at,
                    )
                )
            case PromptDeleted():
                await session.execute(
                    delete(prompt_versions).where(prompt_versions.c.prompt_id == event.aggregate_id)
                )
                await session.execute(delete(prompts).where(prompts.c.id == event.aggregate_id))
