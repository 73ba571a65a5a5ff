"""The event envelope, decoding by type, and upcasting of old payload versions."""

from __future__ import annotations

import msgspec
import pytest

from hyperstrate_contracts import (
    STREAMS,
    ConsumerSpec,
    Event,
    EventRegistry,
    Retention,
    UnknownEventType,
    dead_letter_subject,
    encode_event,
)


class ThingNamed(Event, frozen=True, kw_only=True, tag="test.thing.named"):
    display_name: str


def test_every_event_carries_the_envelope() -> None:
    event = ThingNamed(org_id="org1", aggregate_id="t1", display_name="x")
    wire = msgspec.json.decode(encode_event(event))
    assert wire["type"] == "test.thing.named" == event.type
    assert {
        "event_id",
        "org_id",
        "aggregate_id",
        "aggregate_version",
        "occurred_at",
        "version",
    } <= set(wire)
    assert wire["occurred_at"].endswith("Z")
    assert ThingNamed(org_id="o", aggregate_id="a", display_name="y").event_id != event.event_id


def test_registry_decodes_and_upcasts_old_versions() -> None:
    registry = EventRegistry([ThingNamed])

    @registry.upcaster("test.thing.named", from_version=0)
    def rename_field(raw: dict[str, object]) -> dict[str, object]:
        raw["display_name"] = raw.pop("name")
        return raw

    old = {"org_id": "o", "aggregate_id": "a", "name": "legacy", "version": 0}
    decoded = registry.decode("test.thing.named", old)
    assert isinstance(decoded, ThingNamed)
    assert decoded.display_name == "legacy" and decoded.version == 1
    with pytest.raises(UnknownEventType):
        registry.decode("test.thing.vanished", b"{}")


def test_streams_and_dead_letter_subjects() -> None:
    names = {stream.name: stream for stream in STREAMS}
    assert {"AUTH", "CATALOG", "ROUTER", "PROMPTS", "INFERENCE", "JOBS"} <= set(names)
    assert names["JOBS"].retention is Retention.WORK_QUEUE
    assert names["INFERENCE"].max_age_seconds > 0 and names["AUTH"].max_age_seconds == 0
    subjects = [s for stream in STREAMS for s in stream.subjects]
    assert len(subjects) == len(set(subjects))  # no two streams claim a subject
    spec = ConsumerSpec(stream="INFERENCE", durable="observability-logs")
    assert dead_letter_subject(spec) == "dlq.inference.observability-logs"
    assert any(
        dead_letter_subject(spec).startswith(s.rstrip(">")) for s in names["DEAD_LETTER"].subjects
    )
