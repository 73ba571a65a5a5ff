"""What travels beside an event: the actor and the other metadata headers."""

from __future__ import annotations

from hyperstrate_contracts.metadata import Actor, metadata_headers, recorded_actor


def test_the_recorded_actor_comes_from_metadata_else_from_an_older_events_user() -> None:
    named = {"Hs-Actor-Kind": "api_key", "Hs-Actor-Id": "key-1"}
    assert recorded_actor(named, "usr-old") == Actor(kind="api_key", id="key-1")
    assert recorded_actor({}, "usr-old") == Actor(kind="user", id="usr-old")
    assert recorded_actor(None) is None
    assert recorded_actor({"Hs-Actor-Kind": "robot", "Hs-Actor-Id": "r"}) is None
    assert recorded_actor({"Hs-Actor-Kind": "user", "Hs-Actor-Id": ""}) is None


def test_only_the_known_non_empty_metadata_become_headers() -> None:
    metadata = {
        "Hs-Actor-Kind": "user",
        "Hs-Actor-Id": "usr-1",
        "Hs-Request-Id": "",
        "traceparent": "00-abc-def-01",
        "something-else": "stays in the store",
    }
    assert metadata_headers(metadata) == {
        "Hs-Actor-Kind": "user",
        "Hs-Actor-Id": "usr-1",
        "traceparent": "00-abc-def-01",
    }
