"""The catalog read models, updated from events in the append's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_catalog.infrastructure.tables import (
    PROJECTION_TABLES,
    conversation_messages,
    conversations,
    jobs,
    mcp_servers,
    registrations,
)
from hyperstrate_contracts.catalog import (
    ConversationCreated,
    ConversationDeleted,
    ConversationMessageAdded,
    ConversationUpdated,
    JobCallbackDelivered,
    JobCallbackFailed,
    JobCompleted,
    JobFailed,
    JobStarted,
    JobSubmitted,
    McpServerCreated,
    McpServerDeleted,
    McpServerUpdated,
    Owner,
    RegistrationCreated,
    RegistrationDeleted,
    RegistrationUpdated,
)
from hyperstrate_kit.eventstore import StoredEvent, row_stamps, update_row

__all__ = ["CatalogProjection"]


def _owner_columns(owner: Owner | None) -> dict[str, str | None]:
    return {
        "owner_kind": owner.kind if owner else None,
        "owner_id": owner.id if owner else None,
    }


class CatalogProjection:
    """Registrations, jobs, conversations with their messages, and MCP servers as tables."""

    tables: Sequence[Table] = PROJECTION_TABLES

    async def apply(self, session: AsyncSession, stored: StoredEvent) -> None:
        """Apply one event to the read model."""
        event = stored.event
        at = event.occurred_at
        created, stamp = row_stamps(stored)
        match event:
            case RegistrationCreated():
                await session.execute(
                    insert(registrations).values(
                        name=event.name,
                        catalog_key=event.catalog_key,
                        provider=event.provider,
                        model=event.model,
                        base_url=event.base_url,
                        has_api_key=event.has_api_key,
                        **created,
                    )
                )
            case RegistrationUpdated():
                await update_row(
                    session,
                    registrations,
                    event.aggregate_id,
                    name=event.name,
                    model=event.model,
                    base_url=event.base_url,
                    has_api_key=event.has_api_key,
                    **stamp,
                )
            case RegistrationDeleted():
                await self._delete(session, registrations, event.aggregate_id)
            case JobSubmitted():
                await session.execute(
                    insert(jobs).values(
                        registration_id=event.registration_id,
                        status="queued",
                        has_callback=event.has_callback,
                        submitted_by=event.submitted_by,
                        **_owner_columns(event.owner),
                        attempts=0,
                        input_tokens=0,
                        output_tokens=0,
                        cached_input_tokens=0,
                        cost_usd=0.0,
                        callback_status="pending" if event.has_callback else None,
                        callback_attempts=0,
                        **created,
                    )
                )
            case JobStarted():
                await update_row(
                    session,
                    jobs,
                    event.aggregate_id,
                    status="running",
                    attempts=event.attempt,
                    started_at=at,
                    **stamp,
                )
            case JobCompleted():
                await update_row(
                    session,
                    jobs,
                    event.aggregate_id,
                    status="completed",
                    input_tokens=event.input_tokens,
                    output_tokens=event.output_tokens,
                    cached_input_tokens=event.cached_input_tokens,
                    cost_usd=event.cost_usd,
                    latency_ms=event.latency_ms,
                    finished_at=at,
                    **stamp,
                )
            case JobFailed():
                await update_row(
                    session,
                    jobs,
                    event.aggregate_id,
                    status="failed",
                    error_class=event.error_class,
                    error_message=event.error_message,
                    finished_at=at,
                    **stamp,
                )
            case JobCallbackDelivered():
                await update_row(
                    session,
                    jobs,
                    event.aggregate_id,
                    callback_status="delivered",
                    callback_attempts=event.attempts,
                    callback_status_code=event.status_code,
                    **stamp,
                )
            case JobCallbackFailed():
                await update_row(
                    session,
                    jobs,
                    event.aggregate_id,
                    callback_status="failed",
                    callback_attempts=event.attempts,
                    callback_status_code=event.status_code,
                    **stamp,
                )
            case ConversationCreated():
                await session.execute(
                    insert(conversations).values(
                        title=event.title,
                        registration_id=event.registration_id,
                        system_prompt=event.system_prompt,
                        message_count=0,
                        **_owner_columns(event.owner),
                        **created,
                    )
                )
            case ConversationUpdated():
                await update_row(
                    session,
                    conversations,
                    event.aggregate_id,
                    title=event.title,
                    registration_id=event.registration_id,
                    system_prompt=event.system_prompt,
                    **stamp,
                )
            case ConversationMessageAdded():
                await session.execute(
                    insert(conversation_messages).values(
                        id=event.message_id,
                        conversation_id=event.aggregate_id,
                        org_id=event.org_id,
                        position=stored.version,
                        role=event.role,
                        content=event.content,
                        registration_id=event.registration_id,
                        input_tokens=event.input_tokens,
                        output_tokens=event.output_tokens,
                        cost_usd=event.cost_usd,
                        created_at=at,
                    )
                )
                await update_row(
                    session,
                    conversations,
                    event.aggregate_id,
                    message_count=conversations.c.message_count + 1,
                    **stamp,
                )
            case ConversationDeleted():
                await session.execute(
                    delete(conversation_messages).where(
                        conversation_messages.c.conversation_id == event.aggregate_id
                    )
                )
                await self._delete(session, conversations, event.aggregate_id)
            case McpServerCreated():
                await session.execute(
                    insert(mcp_servers).values(
                        name=event.name,
                        url=event.url,
                        transport=event.transport,
                        header_names=list(event.header_names),
                        **created,
                    )
                )
            case McpServerUpdated():
                await update_row(
                    session,
                    mcp_servers,
                    event.aggregate_id,
                    name=event.name,
                    url=event.url,
                    transport=event.transport,
                    header_names=list(event.header_names),
                    **stamp,
                )
            case McpServerDeleted():
                await self._delete(session, mcp_servers, event.aggregate_id)

    @staticmethod
    async def _delete(session: AsyncSession, table: Table, row_id: str) -> None:
        await session.execute(delete(table).where(table.c.id == row_id))
