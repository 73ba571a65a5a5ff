"""Queries over the prompts read models; every one is scoped by organisation."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_kit.http import PageParams
from hyperstrate_prompts.application.dto import PromptVersionView, PromptView
from hyperstrate_prompts.infrastructure.tables import prompt_versions, prompts

__all__ = ["PromptRepository"]

V = TypeVar("V", bound=msgspec.Struct)


def _view(row: Any, view: type[V]) -> V:
    # Attribute access uses the Python field names, not the camelCase wire names.
    return msgspec.convert(row, view, from_attributes=True)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class PromptRepository:
    """Reads of the prompts service's tables."""

    async def _page(
        self,
        session: AsyncSession,
        query: Select[Any],
        view: type[V],
        page: PageParams,
        *order: Any,
    ) -> tuple[list[V], int]:
        total = (
            await session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (
            await session.execute(query.order_by(*order).offset(page.offset).limit(page.limit))
        ).all()
        return [_view(row, view) for row in rows], int(total)

    async def prompt(
        self, session: AsyncSession, org_id: str, prompt_id: str, *, lock: bool = False
    ) -> tuple[PromptView, int] | None:
        """One prompt of the organisation and its stream version (locked for an append)."""
        query = select(prompts).where(prompts.c.id == prompt_id, prompts.c.org_id == org_id)
        row = (await session.execute(query.with_for_update() if lock else query)).first()
        return (_view(row, PromptView), int(row.stream_version)) if row else None

    async def prompts_of(
        self, session: AsyncSession, org_id: str, page: PageParams, search: str | None
    ) -> tuple[list[PromptView], int]:
        """The organisation's prompts by name, optionally those whose name contains `search`."""
        query = select(prompts).where(prompts.c.org_id == org_id)
        if search:
            query = query.where(prompts.c.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
        return await self._page(session, query, PromptView, page, prompts.c.name, prompts.c.id)

    async def name_taken(
        self, session: AsyncSession, org_id: str, name: str, except_id: str | None = None
    ) -> bool:
        """True when another prompt of the organisation has this name."""
        query = select(literal(1)).where(prompts.c.org_id == org_id, prompts.c.name == name)
        if except_id is not None:
            query = query.where(prompts.c.id != except_id)
        return (await session.execute(query)).first() is not None

    async def version(
        self, session: AsyncSession, org_id: str, prompt_id: str, version: int
    ) -> PromptVersionView | None:
        """One version of a prompt of the organisation."""
        query = select(prompt_versions).where(
            prompt_versions.c.prompt_id == prompt_id,
            prompt_versions.c.org_id == org_id,
            prompt_versions.c.version == version,
        )
        row = (await session.execute(query)).first()
        return _view(row, PromptVersionView) if row else None

    async def versions_of(
        self, session: AsyncSession, org_id: str, prompt_id: str, page: PageParams
    ) -> tuple[list[PromptVersionView], int]:
        """A prompt's history, newest first."""
        query = select(prompt_versions).where(
            prompt_versions.c.prompt_id == prompt_id, prompt_versions.c.org_id == org_id
        )
        return await self._page(
            session, query, PromptVersionView, page, prompt_versions.c.version.desc()
        )
