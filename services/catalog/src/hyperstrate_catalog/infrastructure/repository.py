"""Queries over the catalog read models and writes of its write-side tables.

Every read is scoped by organisation: a row of another organisation is not found. Reads of
jobs and conversations also take the owner the caller may see (None: any, for an admin
session): a row of another owner, or of none, is not found either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Select, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_catalog.application.dto import (
    ConversationView,
    McpServerView,
    MessageView,
    RegistrationView,
)
from hyperstrate_catalog.infrastructure.tables import (
    conversation_messages,
    conversations,
    job_payloads,
    jobs,
    mcp_server_secrets,
    mcp_servers,
    registration_secrets,
    registrations,
)
from hyperstrate_contracts.catalog import Owner
from hyperstrate_kit.http import PageParams

__all__ = ["CatalogRepository", "JobRecord", "Versioned"]

V = TypeVar("V", bound=msgspec.Struct)


class Versioned(msgspec.Struct, frozen=True):
    """A row's id, organisation and aggregate version (for the next append)."""

    id: str
    org_id: str
    version: int


class JobRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A job's read model joined with its payload (request, result, callback target)."""

    id: str
    org_id: str
    registration_id: str
    owner_kind: str | None
    owner_id: str | None
    status: str
    has_callback: bool
    attempts: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_usd: float
    latency_ms: float | None
    error_class: str | None
    error_message: str | None
    callback_status: str | None
    callback_attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    version: int
    request: dict[str, Any]
    result: dict[str, Any] | None
    callback_url: str | None
    callback_secret_ciphertext: str | None


def _view(row: Any, view: type[V]) -> V:
    # Attribute access uses the Python field names, not the camelCase wire names.
    return msgspec.convert(row, view, from_attributes=True)


def _owned_by(query: Select[Any], table: Table, owner: Owner | None) -> Select[Any]:
    """`query` narrowed to `owner`'s rows (unchanged for None: an admin sees every row)."""
    if owner is None:
        return query
    return query.where(table.c.owner_kind == owner.kind, table.c.owner_id == owner.id)


_JOB_COLUMNS = [
    *jobs.c,
    job_payloads.c.request,
    job_payloads.c.result,
    job_payloads.c.callback_url,
    job_payloads.c.callback_secret_ciphertext,
]


class CatalogRepository:
    """Reads and small writes of the catalog service's tables."""

    # -- generic ------------------------------------------------------------------------

    async def _page(
        self, session: AsyncSession, query: Select[Any], view: type[V], page: PageParams, order: Any
    ) -> tuple[list[V], int]:
        total = (
            await session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (
            await session.execute(query.order_by(*order).offset(page.offset).limit(page.limit))
        ).all()
        return [_view(row, view) for row in rows], int(total)

    async def versioned(
        self,
        session: AsyncSession,
        table: Table,
        org_id: str,
        row_id: str,
        *,
        lock: bool = True,
        owner: Owner | None = None,
    ) -> Versioned | None:
        """The row's version, locked for the coming append; None if absent, another org's
        or (given an `owner`, for tables with owners) another owner's."""
        query = select(table.c.id, table.c.org_id, table.c.version).where(
            table.c.id == row_id, table.c.org_id == org_id
        )
        query = _owned_by(query, table, owner)
        row = (await session.execute(query.with_for_update() if lock else query)).first()
        return Versioned(row.id, row.org_id, row.version) if row else None

    # -- registrations ------------------------------------------------------------------

    async def registration(
        self, session: AsyncSession, org_id: str, registration_id: str
    ) -> RegistrationView | None:
        """One registration of the organisation."""
        query = select(registrations).where(
            registrations.c.id == registration_id, registrations.c.org_id == org_id
        )
        row = (await session.execute(query)).first()
        return _view(row, RegistrationView) if row else None

    async def registrations_of(
        self, session: AsyncSession, org_id: str, page: PageParams
    ) -> tuple[list[RegistrationView], int]:
        """The organisation's registrations, oldest first."""
        query = select(registrations).where(registrations.c.org_id == org_id)
        order = (registrations.c.created_at, registrations.c.id)
        return await self._page(session, query, RegistrationView, page, order)

    async def registrations_by_ids(
        self, session: AsyncSession, org_id: str, ids: tuple[str, ...]
    ) -> list[RegistrationView]:
        """The organisation's registrations among `ids` (all of them when empty)."""
        query = select(registrations).where(registrations.c.org_id == org_id)
        if ids:
            query = query.where(registrations.c.id.in_(ids))
        rows = (await session.execute(query.order_by(registrations.c.created_at))).all()
        return [_view(row, RegistrationView) for row in rows]

    async def store_api_key(
        self, session: AsyncSession, registration_id: str, org_id: str, sealed: str
    ) -> None:
        """Keep a registration's sealed API key (replacing the previous one)."""
        statement = pg_insert(registration_secrets).values(
            registration_id=registration_id, org_id=org_id, api_key_ciphertext=sealed
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[registration_secrets.c.registration_id],
                set_={"api_key_ciphertext": sealed, "updated_at": func.now()},
            )
        )

    async def sealed_api_key(
        self, session: AsyncSession, org_id: str, registration_id: str
    ) -> str | None:
        """A registration's sealed API key, if it has one."""
        query = select(registration_secrets.c.api_key_ciphertext).where(
            registration_secrets.c.registration_id == registration_id,
            registration_secrets.c.org_id == org_id,
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def forget_api_key(self, session: AsyncSession, registration_id: str) -> None:
        """Drop a registration's API key."""
        await session.execute(
            delete(registration_secrets).where(
                registration_secrets.c.registration_id == registration_id
            )
        )

    # -- jobs ---------------------------------------------------------------------------

    async def store_job_payload(
        self,
        session: AsyncSession,
        job_id: str,
        org_id: str,
        request: dict[str, Any],
        callback_url: str | None,
        sealed_callback_secret: str | None,
    ) -> None:
        """Keep a new job's request and callback target."""
        await session.execute(
            pg_insert(job_payloads).values(
                job_id=job_id,
                org_id=org_id,
                request=request,
                callback_url=callback_url,
                callback_secret_ciphertext=sealed_callback_secret,
            )
        )

    async def store_job_result(
        self, session: AsyncSession, job_id: str, result: dict[str, Any]
    ) -> None:
        """Keep a finished job's result."""
        await session.execute(
            update(job_payloads).where(job_payloads.c.job_id == job_id).values(result=result)
        )

    async def mark_dispatched(self, session: AsyncSession, job_id: str, at: datetime) -> None:
        """Record that the job reached the work queue."""
        await session.execute(
            update(job_payloads).where(job_payloads.c.job_id == job_id).values(dispatched_at=at)
        )

    async def undispatched_jobs(
        self, session: AsyncSession, created_before: datetime, limit: int = 100
    ) -> list[tuple[str, str]]:
        """(job id, org id) of queued jobs whose publish to the work queue never succeeded."""
        query = (
            select(job_payloads.c.job_id, job_payloads.c.org_id)
            .where(job_payloads.c.dispatched_at.is_(None))
            .where(job_payloads.c.created_at < created_before)
            .order_by(job_payloads.c.created_at)
            .limit(limit)
        )
        return [(row.job_id, row.org_id) for row in (await session.execute(query)).all()]

    def _job_query(self) -> Select[Any]:
        return select(*_JOB_COLUMNS).join(job_payloads, job_payloads.c.job_id == jobs.c.id)

    async def job(
        self, session: AsyncSession, org_id: str, job_id: str, owner: Owner | None = None
    ) -> JobRecord | None:
        """One job of the organisation (and of `owner`, if given) with its payload."""
        query = self._job_query().where(jobs.c.id == job_id, jobs.c.org_id == org_id)
        query = _owned_by(query, jobs, owner)
        row = (await session.execute(query)).first()
        return _view(row, JobRecord) if row else None

    async def jobs_of(
        self,
        session: AsyncSession,
        org_id: str,
        page: PageParams,
        status: str | None,
        owner: Owner | None = None,
    ) -> tuple[list[JobRecord], int]:
        """The organisation's jobs (of `owner`, if given), newest first."""
        query = _owned_by(self._job_query().where(jobs.c.org_id == org_id), jobs, owner)
        if status is not None:
            query = query.where(jobs.c.status == status)
        return await self._page(
            session, query, JobRecord, page, (jobs.c.created_at.desc(), jobs.c.id)
        )

    # -- conversations ------------------------------------------------------------------

    async def conversation(
        self, session: AsyncSession, org_id: str, conversation_id: str, owner: Owner | None
    ) -> ConversationView | None:
        """One conversation of the organisation (and of `owner`, if given)."""
        query = select(conversations).where(
            conversations.c.id == conversation_id, conversations.c.org_id == org_id
        )
        query = _owned_by(query, conversations, owner)
        row = (await session.execute(query)).first()
        return _view(row, ConversationView) if row else None

    async def conversations_of(
        self, session: AsyncSession, org_id: str, page: PageParams, owner: Owner | None
    ) -> tuple[list[ConversationView], int]:
        """The organisation's conversations (of `owner`, if given), most recently active
        first."""
        query = select(conversations).where(conversations.c.org_id == org_id)
        query = _owned_by(query, conversations, owner)
        order = (conversations.c.updated_at.desc(), conversations.c.id)
        return await self._page(session, query, ConversationView, page, order)

    async def messages_of(
        self, session: AsyncSession, org_id: str, conversation_id: str, page: PageParams | None
    ) -> tuple[list[MessageView], int]:
        """A conversation's messages in order (all of them when `page` is None)."""
        query = select(conversation_messages).where(
            conversation_messages.c.conversation_id == conversation_id,
            conversation_messages.c.org_id == org_id,
        )
        order = (conversation_messages.c.position,)
        if page is not None:
            return await self._page(session, query, MessageView, page, order)
        rows = (await session.execute(query.order_by(*order))).all()
        return [_view(row, MessageView) for row in rows], len(rows)

    async def message(self, session: AsyncSession, message_id: str) -> MessageView | None:
        """One message by id."""
        query = select(conversation_messages).where(conversation_messages.c.id == message_id)
        row = (await session.execute(query)).first()
        return _view(row, MessageView) if row else None

    # -- MCP servers --------------------------------------------------------------------

    async def mcp_server(
        self, session: AsyncSession, org_id: str, server_id: str
    ) -> McpServerView | None:
        """One MCP server of the organisation."""
        query = select(mcp_servers).where(
            mcp_servers.c.id == server_id, mcp_servers.c.org_id == org_id
        )
        row = (await session.execute(query)).first()
        return _view(row, McpServerView) if row else None

    async def mcp_servers_of(
        self, session: AsyncSession, org_id: str, page: PageParams
    ) -> tuple[list[McpServerView], int]:
        """The organisation's MCP servers, oldest first."""
        query = select(mcp_servers).where(mcp_servers.c.org_id == org_id)
        order = (mcp_servers.c.created_at, mcp_servers.c.id)
        return await self._page(session, query, McpServerView, page, order)

    async def store_mcp_headers(
        self, session: AsyncSession, server_id: str, org_id: str, sealed: str
    ) -> None:
        """Keep an MCP server's sealed headers (replacing the previous ones)."""
        statement = pg_insert(mcp_server_secrets).values(
            server_id=server_id, org_id=org_id, headers_ciphertext=sealed
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[mcp_server_secrets.c.server_id],
                set_={"headers_ciphertext": sealed, "updated_at": func.now()},
            )
        )

    async def sealed_mcp_headers(
        self, session: AsyncSession, org_id: str, server_id: str
    ) -> str | None:
        """An MCP server's sealed headers, if any."""
        query = select(mcp_server_secrets.c.headers_ciphertext).where(
            mcp_server_secrets.c.server_id == server_id, mcp_server_secrets.c.org_id == org_id
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def forget_mcp_headers(self, session: AsyncSession, server_id: str) -> None:
        """Drop an MCP server's headers."""
        await session.execute(
            delete(mcp_server_secrets).where(mcp_server_secrets.c.server_id == server_id)
        )
