"""Prompt use cases: create, save (a new version each time), restore, delete, render.

Every command appends events (the projection updates the read models in the same
transaction); every query is scoped by the caller's organisation, and another
organisation's prompt is a 404.
"""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import Event
from hyperstrate_contracts.prompts import (
    PromptCreated,
    PromptDeleted,
    PromptRestored,
    PromptUpdated,
)
from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams
from hyperstrate_kit.sessions import Principal
from hyperstrate_prompts.application import dto
from hyperstrate_prompts.domain import (
    PromptNameTaken,
    PromptNotFound,
    VersionNotFound,
    new_prompt_id,
    render,
    stream_id,
    variables_of,
)
from hyperstrate_prompts.infrastructure.repository import PromptRepository

__all__ = ["PromptsService"]


class PromptsService:
    """The prompts service's application layer."""

    def __init__(self, database: Database, store: EventStore, repository: PromptRepository):
        self.database = database
        self.store = store
        self.repo = repository

    async def create(self, principal: Principal, data: dto.PromptCreate) -> dto.PromptView:
        """A new prompt: version 1, its variables extracted from the text."""
        prompt_id = new_prompt_id()
        async with self.database.transaction() as session:
            await self._require_free_name(session, principal.org_id, data.name)
            event = PromptCreated(
                org_id=principal.org_id,
                aggregate_id=prompt_id,
                name=data.name,
                description=data.description,
                text=data.text,
                variables=variables_of(data.text),
                version_number=1,
            )
            await self.store.append(stream_id(prompt_id), 0, [event], session=session)
            return await self._get(session, principal.org_id, prompt_id)

    async def update(
        self, principal: Principal, prompt_id: str, data: dto.PromptUpdate
    ) -> dto.PromptView:
        """Save the prompt: every save is a new immutable version."""
        async with self.database.transaction() as session:
            current, stream_version = await self._locked(session, principal.org_id, prompt_id)
            name = current.name if data.name is msgspec.UNSET else data.name
            text = current.text if data.text is msgspec.UNSET else data.text
            description = (
                current.description if data.description is msgspec.UNSET else data.description
            )
            if name != current.name:
                await self._require_free_name(session, principal.org_id, name, prompt_id)
            event = PromptUpdated(
                org_id=principal.org_id,
                aggregate_id=prompt_id,
                name=name,
                description=description,
                text=text,
                variables=variables_of(text),
                version_number=current.version + 1,
            )
            await self._append(session, prompt_id, stream_version, event)
            return await self._get(session, principal.org_id, prompt_id)

    async def restore(self, principal: Principal, prompt_id: str, version: int) -> dto.PromptView:
        """Copy an old version into a new one (history is never rewritten)."""
        async with self.database.transaction() as session:
            current, stream_version = await self._locked(session, principal.org_id, prompt_id)
            old = await self.repo.version(session, principal.org_id, prompt_id, version)
            if old is None:
                raise VersionNotFound()
            if old.name != current.name:
                await self._require_free_name(session, principal.org_id, old.name, prompt_id)
            event = PromptRestored(
                org_id=principal.org_id,
                aggregate_id=prompt_id,
                name=old.name,
                description=old.description,
                text=old.text,
                variables=variables_of(old.text),
                version_number=current.version + 1,
                restored_from=version,
            )
            await self._append(session, prompt_id, stream_version, event)
            return await self._get(session, principal.org_id, prompt_id)

    async def delete(self, principal: Principal, prompt_id: str) -> None:
        """Remove the prompt and its history from the read models (the events stay)."""
        async with self.database.transaction() as session:
            _, stream_version = await self._locked(session, principal.org_id, prompt_id)
            event = PromptDeleted(org_id=principal.org_id, aggregate_id=prompt_id)
            await self._append(session, prompt_id, stream_version, event)

    async def get(self, principal: Principal, prompt_id: str) -> dto.PromptView:
        """One prompt of the organisation."""
        async with self.database.sessions() as session:
            return await self._get(session, principal.org_id, prompt_id)

    async def list_prompts(
        self, principal: Principal, page: PageParams, search: str | None = None
    ) -> tuple[list[dto.PromptView], int]:
        """The organisation's prompts, by name."""
        async with self.database.sessions() as session:
            return await self.repo.prompts_of(session, principal.org_id, page, search)

    async def versions(
        self, principal: Principal, prompt_id: str, page: PageParams
    ) -> tuple[list[dto.PromptVersionView], int]:
        """A prompt's version history, newest first."""
        async with self.database.sessions() as session:
            await self._get(session, principal.org_id, prompt_id)
            return await self.repo.versions_of(session, principal.org_id, prompt_id, page)

    async def version(
        self, principal: Principal, prompt_id: str, version: int
    ) -> dto.PromptVersionView:
        """One version of a prompt."""
        async with self.database.sessions() as session:
            found = await self.repo.version(session, principal.org_id, prompt_id, version)
            if found is None:
                await self._get(session, principal.org_id, prompt_id)  # the prompt's 404 first
                raise VersionNotFound()
            return found

    async def render(
        self, principal: Principal, prompt_id: str, data: dto.RenderInput
    ) -> dto.RenderedPrompt:
        """The prompt (current or a given version) with its variables filled in."""
        if data.version is None:
            prompt = await self.get(principal, prompt_id)
            text, version = prompt.text, prompt.version
        else:
            old = await self.version(principal, prompt_id, data.version)
            text, version = old.text, old.version
        values: dict[str, object] = dict(data.variables)
        return dto.RenderedPrompt(prompt_id=prompt_id, version=version, text=render(text, values))

    async def _get(self, session: AsyncSession, org_id: str, prompt_id: str) -> dto.PromptView:
        found = await self.repo.prompt(session, org_id, prompt_id)
        if found is None:
            raise PromptNotFound()
        return found[0]

    async def _locked(
        self, session: AsyncSession, org_id: str, prompt_id: str
    ) -> tuple[dto.PromptView, int]:
        found = await self.repo.prompt(session, org_id, prompt_id, lock=True)
        if found is None:
            raise PromptNotFound()
        return found

    async def _require_free_name(
        self, session: AsyncSession, org_id: str, name: str, except_id: str | None = None
    ) -> None:
        # Serialise the check with every append, so two saves cannot both take a name.
        await self.store.lock_appends(session)
        if await self.repo.name_taken(session, org_id, name, except_id):
            raise PromptNameTaken(fields={"name": ["already used by another prompt"]})

    async def _append(
        self, session: AsyncSession, prompt_id: str, stream_version: int, event: Event
    ) -> None:
        await self.store.append(stream_id(prompt_id), stream_version, [event], session=session)
