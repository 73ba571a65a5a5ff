"""Who is acting right now: the actor every appended event records in its metadata.

One place names the actor of each unit of work, and no use case passes it by hand:
the session guards and the API-key guard name the caller of a request (`identify`), the
runtime names its background tasks `system` (`acting_as`), the operator's CLI names itself
`operator`. The event store reads `event_metadata()` on every append.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from hyperstrate_contracts.metadata import ACTOR_ID, ACTOR_KIND, REQUEST_ID, Actor
from hyperstrate_kit.logs import request_id_var

__all__ = [
    "Actor",
    "acting_as",
    "close_request_scope",
    "current_actor",
    "event_metadata",
    "identify",
    "open_request_scope",
    "system_actor",
]


class _ActorSlot:
    """A request's actor, filled in by a guard.

    Mutable on purpose: Litestar runs a sync guard in a worker thread, in a copy of the
    request's context, so a value the guard *set* would be lost to the handler; a slot the
    request opened and the guard *fills* is shared by both copies.
    """

    __slots__ = ("actor",)

    def __init__(self, actor: Actor | None = None) -> None:
        self.actor = actor


_actor_slot: ContextVar[_ActorSlot | None] = ContextVar("actor", default=None)


def system_actor(task: str) -> Actor:
    """The service itself, doing `task` (a consumer, a scheduler, start-up work)."""
    return Actor(kind="system", id=task)


def current_actor() -> Actor | None:
    """The actor of the current request or task, if one was named."""
    slot = _actor_slot.get()
    return slot.actor if slot is not None else None


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    """Run the block (and the tasks it starts) as `actor`."""
    token = _actor_slot.set(_ActorSlot(actor))
    try:
        yield
    finally:
        _actor_slot.reset(token)


def open_request_scope() -> Token[_ActorSlot | None]:
    """Give an HTTP request an empty actor slot (for its guard to fill); close it after."""
    return _actor_slot.set(_ActorSlot())


def close_request_scope(token: Token[_ActorSlot | None]) -> None:
    """End a request's actor scope."""
    _actor_slot.reset(token)


def identify(actor: Actor) -> None:
    """Name the caller of the current request (a guard calls this once it knows who it is)."""
    slot = _actor_slot.get()
    if slot is None:  # not inside a request scope: name it for this context only
        _actor_slot.set(_ActorSlot(actor))
    else:
        slot.actor = actor


def event_metadata() -> dict[str, Any]:
    """The metadata the event store records with an append: the actor and the request id."""
    metadata: dict[str, Any] = {}
    actor = current_actor()
    if actor is not None:
        metadata[ACTOR_KIND] = actor.kind
        metadata[ACTOR_ID] = actor.id
    request_id = request_id_var.get()
    if request_id:
        metadata[REQUEST_ID] = request_id
    return metadata
