"""Conversations: multi-turn chats kept as event-sourced aggregates, their messages, and
sending a conversation to a registration so that the model's reply is appended."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_catalog.application import dto
from hyperstrate_catalog.application.common import Caller, merge
from hyperstrate_catalog.application.inference import InferenceService, usage_view
from hyperstrate_catalog.domain.model import (
    ConversationNotFound,
    RegistrationNotFound,
    new_id,
    stream_id,
)
from hyperstrate_catalog.infrastructure.repository import CatalogRepository, Versioned
from hyperstrate_catalog.infrastructure.tables import conversations
from hyperstrate_contracts.catalog import (
    ConversationCreated,
    ConversationDeleted,
    ConversationMessageAdded,
    ConversationUpdated,
)
from hyperstrate_kit.database import Database
from hyperstrate_kit.errors import InvalidInputError
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams

__all__ = ["ConversationService"]


class ConversationService:
    """CRUD of conversations and their messages, and the send-and-reply turn."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: CatalogRepository,
        inference: InferenceService,
    ) -> None:
        self.database = database
        self.store = store
        self.repo = repository
        self.inference = inference

    async def _require_registration(self, org_id: str, registration_id: str | None) -> None:
        if registration_id is None:
            return
        try:
            await self.inference.registrations.get(org_id, registration_id)
        except RegistrationNotFound:
            raise InvalidInputError(
                "unknown registration", {"registrationId": ["no such registration"]}
            ) from None

    async def create(self, caller: Caller, data: dto.ConversationCreate) -> dto.ConversationView:
        """Start a conversation (optionally bound to a registration and a system prompt),
        owned by the caller."""
        org_id = caller.org_id
        await self._require_registration(org_id, data.registration_id)
        conversation_id = new_id("conv")
        await self.store.append(
            stream_id("conversation", conversation_id),
            0,
            [
                ConversationCreated(
                    org_id=org_id,
                    aggregate_id=conversation_id,
                    title=data.title,
                    registration_id=data.registration_id,
                    system_prompt=data.system_prompt,
                    owner=caller.owner,
                )
            ],
        )
        return await self.get(caller, conversation_id)

    async def list_page(
        self, caller: Caller, page: PageParams
    ) -> tuple[list[dto.ConversationView], int]:
        """The conversations the caller may see (its own; all of the org for an admin)."""
        async with self.database.sessions() as session:
            return await self.repo.conversations_of(
                session, caller.org_id, page, caller.visible_owner
            )

    async def get(self, caller: Caller, conversation_id: str) -> dto.ConversationView:
        """One conversation the caller may see; another's is not found."""
        async with self.database.sessions() as session:
            view = await self.repo.conversation(
                session, caller.org_id, conversation_id, caller.visible_owner
            )
        if view is None:
            raise ConversationNotFound()
        return view

    async def _locked(
        self, session: AsyncSession, caller: Caller, conversation_id: str, *, lock: bool = True
    ) -> Versioned:
        """The caller's conversation's version for the next append (else not found)."""
        row = await self.repo.versioned(
            session,
            conversations,
            caller.org_id,
            conversation_id,
            lock=lock,
            owner=caller.visible_owner,
        )
        if row is None:
            raise ConversationNotFound()
        return row

    async def update(
        self, caller: Caller, conversation_id: str, data: dto.ConversationUpdate
    ) -> dto.ConversationView:
        """Retitle, rebind or change the system prompt."""
        org_id = caller.org_id
        current = await self.get(caller, conversation_id)
        merged = merge(msgspec.structs.asdict(current), data)
        if data.registration_id is not msgspec.UNSET:
            await self._require_registration(org_id, merged["registration_id"])
        async with self.database.transaction() as session:
            row = await self._locked(session, caller, conversation_id)
            await self.store.append(
                stream_id("conversation", conversation_id),
                row.version,
                [
                    ConversationUpdated(
                        org_id=org_id,
                        aggregate_id=conversation_id,
                        title=merged["title"],
                        registration_id=merged["registration_id"],
                        system_prompt=merged["system_prompt"],
                    )
                ],
                session=session,
            )
        return await self.get(caller, conversation_id)

    async def delete(self, caller: Caller, conversation_id: str) -> None:
        """Delete a conversation and its messages."""
        async with self.database.transaction() as session:
            row = await self._locked(session, caller, conversation_id)
            await self.store.append(
                stream_id("conversation", conversation_id),
                row.version,
                [ConversationDeleted(org_id=caller.org_id, aggregate_id=conversation_id)],
                session=session,
            )

    async def messages(
        self, caller: Caller, conversation_id: str, page: PageParams
    ) -> tuple[list[dto.MessageView], int]:
        """A conversation's messages, oldest first."""
        await self.get(caller, conversation_id)
        async with self.database.sessions() as session:
            return await self.repo.messages_of(session, caller.org_id, conversation_id, page)

    async def add_message(
        self, caller: Caller, conversation_id: str, data: dto.MessageCreate
    ) -> dto.MessageView:
        """Append a user or assistant message written by the caller."""
        org_id = caller.org_id
        message_id = new_id("msg")
        async with self.database.transaction() as session:
            row = await self._locked(session, caller, conversation_id)
            await self.store.append(
                stream_id("conversation", conversation_id),
                row.version,
                [
                    ConversationMessageAdded(
                        org_id=org_id,
                        aggregate_id=conversation_id,
                        message_id=message_id,
                        role=data.role,
                        content=data.content,
                    )
                ],
                session=session,
            )
            view = await self.repo.message(session, message_id)
        assert view is not None
        return view

    async def send(
        self, caller: Caller, conversation_id: str, data: dto.ConversationSend
    ) -> dto.SendResult:
        """Send the conversation and a new user message to a registration; the user message
        and the model's reply are appended together once the model has answered (a failed
        call appends nothing; a concurrent turn makes this one a 409)."""
        org_id = caller.org_id
        conversation = await self.get(caller, conversation_id)
        registration_id = data.registration_id or conversation.registration_id
        if registration_id is None:
            raise InvalidInputError(
                "registration required",
                {"registrationId": ["required: the conversation has no default registration"]},
            )
        async with self.database.sessions() as session:
            row = await self._locked(session, caller, conversation_id, lock=False)
            history, _ = await self.repo.messages_of(session, org_id, conversation_id, None)
        messages: list[dict[str, Any]] = []
        if conversation.system_prompt:
            messages.append({"role": "system", "content": conversation.system_prompt})
        messages.extend({"role": m.role, "content": m.content} for m in history)
        messages.append({"role": "user", "content": data.content})
        target = await self.inference.registrations.target(org_id, registration_id)
        request = self.inference.build_request(target, messages)
        outcome = await self.inference.run(caller, target, request)
        user_message_id, reply_id = new_id("msg"), new_id("msg")
        async with self.database.transaction() as session:
            await self.store.append(
                stream_id("conversation", conversation_id),
                row.version,
                [
                    ConversationMessageAdded(
                        org_id=org_id,
                        aggregate_id=conversation_id,
                        message_id=user_message_id,
                        role="user",
                        content=data.content,
                    ),
                    ConversationMessageAdded(
                        org_id=org_id,
                        aggregate_id=conversation_id,
                        message_id=reply_id,
                        role="assistant",
                        content=outcome.result.content or "",
                        registration_id=registration_id,
                        input_tokens=outcome.usage.input_tokens,
                        output_tokens=outcome.usage.output_tokens,
                        cost_usd=float(outcome.cost),
                    ),
                ],
                session=session,
            )
            message = await self.repo.message(session, user_message_id)
            reply = await self.repo.message(session, reply_id)
        assert message is not None and reply is not None
        return dto.SendResult(
            message=message,
            reply=reply,
            usage=usage_view(outcome.usage),
            cost_usd=float(outcome.cost),
            latency_ms=outcome.latency_ms,
        )
