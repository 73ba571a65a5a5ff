"""What travels with an event besides its body: who did it, in which request, in which trace.

The writer's event store records these in the event's metadata; the outbox relay sends them
as NATS headers beside the body, so a subscriber (the audit log, say) reads them without
knowing the event's type. Values are ids, never secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

import msgspec

__all__ = [
    "ACTOR_ID",
    "ACTOR_KIND",
    "ACTOR_KINDS",
    "EVENT_HEADERS",
    "REQUEST_ID",
    "TRACEPARENT",
    "Actor",
    "ActorKind",
    "metadata_headers",
    "recorded_actor",
]

#: `user`: a person with a session; `api_key`: a program with an API key; `operator`: a
#: command run on the server (the auth CLI); `system`: the service itself (a consumer, a
#: scheduler, a start-up task).
ActorKind = Literal["user", "api_key", "operator", "system"]
ACTOR_KINDS: frozenset[str] = frozenset(get_args(ActorKind))

# Metadata keys, which are also the names of the headers (NATS headers are case-sensitive).
ACTOR_KIND = "Hs-Actor-Kind"
ACTOR_ID = "Hs-Actor-Id"
REQUEST_ID = "Hs-Request-Id"
TRACEPARENT = "traceparent"

#: Every header an event may carry besides `Nats-Msg-Id`, and what it holds.
EVENT_HEADERS: tuple[tuple[str, str], ...] = (
    (ACTOR_KIND, "who made the change: " + ", ".join(f"`{kind}`" for kind in get_args(ActorKind))),
    (
        ACTOR_ID,
        "the actor's id: the user id, the API key id, `cli` for the operator's command line, "
        "or the name of the service's task (`consumer:<durable>`, `start-up`, ...)",
    ),
    (REQUEST_ID, "the `X-Request-ID` of the HTTP request that made the change, if one did"),
    (TRACEPARENT, "the W3C trace context of the writer"),
)


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a change: its kind and its id."""

    kind: ActorKind
    id: str


def metadata_headers(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The headers that carry an event's metadata on the bus (the keys are the names)."""
    return {
        name: value
        for name, _ in EVENT_HEADERS
        if isinstance(value := metadata.get(name), str) and value
    }


def recorded_actor(
    values: Mapping[str, Any] | None, legacy_user_id: str | None = None
) -> Actor | None:
    """The actor an event's metadata or headers name (the keys are the same).

    Events recorded before actors travelled this way named a user in their payload
    (`actor_id` of the prompt and webhook events): pass it as `legacy_user_id`. None when
    neither names anyone, or the kind is one this version does not know.
    """
    values = values or {}
    kind, actor_id = values.get(ACTOR_KIND), values.get(ACTOR_ID)
    if kind not in ACTOR_KINDS or not isinstance(actor_id, str) or not actor_id:
        return Actor(kind="user", id=legacy_user_id) if legacy_user_id else None
    return Actor(kind=kind, id=actor_id)
