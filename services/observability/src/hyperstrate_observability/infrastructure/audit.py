"""The audit log's consumer: admin events of every service, read generically.

Only the envelope is decoded (type from the subject; org, aggregate, event id, time) and the
actor from the headers the writer's relay sets (`Hs-Actor-Kind`, `Hs-Actor-Id`), so events
another service adds tomorrow are audited without a change here. Activity that is not
administration (inference, job progress, conversation messages) is left out, and values
that look like secrets are masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from nats.aio.msg import Msg
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import (
    AUTH,
    CATALOG,
    OBSERVABILITY,
    PROMPTS,
    ROUTER,
    ConsumerSpec,
    StreamSpec,
)
from hyperstrate_contracts.metadata import Actor, recorded_actor
from hyperstrate_kit.database import Database
from hyperstrate_observability.infrastructure.tables import audit_log

__all__ = ["AuditEntry", "audit_consumers", "decode_audit_entry", "record_audit_entry"]

#: Event types that are activity rather than administration.
_NOT_AUDITED = re.compile(r"^catalog\.(job\.|conversation\.message_added$)")
_SECRET_KEY = re.compile(r"secret|password|token|hash|api_key|authorization|credential", re.I)
_ENVELOPE = {
    "type",
    "org_id",
    "aggregate_id",
    "aggregate_version",
    "event_id",
    "occurred_at",
    "version",
}
_MAX_DATA_BYTES = 16_384
#: Audited streams, and the subjects of each (empty: all of them).
_AUDITED: tuple[tuple[StreamSpec, tuple[str, ...]], ...] = (
    (AUTH, ()),
    (CATALOG, ()),
    (ROUTER, ()),
    (PROMPTS, ()),
    (OBSERVABILITY, ("observability.webhook.>",)),
)


class _Envelope(msgspec.Struct):
    org_id: str
    aggregate_id: str
    event_id: str
    occurred_at: datetime
    #: Events recorded before actors travelled in headers named their user here.
    actor_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    event_id: str
    org_id: str
    type: str
    aggregate_id: str
    actor: Actor | None
    occurred_at: datetime
    data: dict[str, Any]


def audit_consumers(prefix: str) -> list[ConsumerSpec]:
    """One durable consumer per audited stream."""
    return [
        ConsumerSpec(
            stream=stream.name,
            durable=f"{prefix}-audit-{stream.name.lower()}",
            filter_subjects=subjects,
            description=f"observability: audit log of {stream.name}",
            max_deliver=10,
            backoff_seconds=(1.0, 5.0, 15.0, 30.0, 60.0),
        )
        for stream, subjects in _AUDITED
    ]


def _masked(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEY.search(key):
        return "***"
    if isinstance(value, dict):
        return {k: _masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def decode_audit_entry(msg: Msg) -> AuditEntry | None:
    """The audit entry of an event, or None when the event is not audited."""
    if _NOT_AUDITED.match(msg.subject):
        return None
    raw = msgspec.json.decode(msg.data)
    if not isinstance(raw, dict):
        raise ValueError("an event is a JSON object")
    envelope = msgspec.convert(raw, _Envelope)
    actor = recorded_actor(msg.headers, envelope.actor_id)
    data = _masked({k: v for k, v in raw.items() if k not in _ENVELOPE})
    if len(msgspec.json.encode(data)) > _MAX_DATA_BYTES:
        data = {"truncated": True, "fields": sorted(data)}
    return AuditEntry(
        event_id=envelope.event_id,
        org_id=envelope.org_id,
        type=msg.subject,
        aggregate_id=envelope.aggregate_id,
        actor=actor,
        occurred_at=envelope.occurred_at,
        data=data,
    )


async def record_audit_entry(session: AsyncSession, entry: AuditEntry) -> None:
    """Store one entry; a redelivered event is dropped by its id."""
    service, _, rest = entry.type.partition(".")
    aggregate_type, _, action = rest.rpartition(".")
    statement = pg_insert(audit_log).values(
        event_id=entry.event_id,
        org_id=entry.org_id,
        type=entry.type,
        service=service,
        aggregate_type=aggregate_type or rest,
        action=action,
        aggregate_id=entry.aggregate_id,
        actor_id=entry.actor.id if entry.actor else None,
        actor_kind=entry.actor.kind if entry.actor else None,
        data=entry.data,
        occurred_at=entry.occurred_at,
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["event_id"]))


def audit_handler(database: Database) -> Any:
    """The consumer handler: one entry, one short transaction (admin events are few)."""

    async def handle(entry: AuditEntry | None, _msg: Msg) -> None:
        if entry is None:
            return
        async with database.transaction() as session:
            await record_audit_entry(session, entry)

    return handle


__all__ += ["audit_handler"]
