"""Conversations: CRUD, messages, and a three-turn chat with the fake upstream."""

from __future__ import annotations

import msgspec
from catalog_support import Catalog, new_org, openai_url, register

from hyperstrate_providers.fake_upstream import FakeUpstream


async def test_a_three_turn_conversation(catalog: Catalog, fake_upstream: FakeUpstream) -> None:
    client, org = catalog.client, new_org()
    # `echo`: the fake model answers with the last user message, so every turn is checkable.
    registration = await register(client, org, openai_url(fake_upstream), model="fake-gpt;echo")
    created = await client.post(
        "/ai/conversations",
        headers=org.headers,
        json={
            "title": "Trip planning",
            "registrationId": registration["id"],
            "systemPrompt": "You are terse.",
        },
    )
    assert created.status_code == 201, created.text
    conversation = created.json()
    conversation_id = conversation["id"]
    assert conversation["messageCount"] == 0 and conversation["systemPrompt"] == "You are terse."

    turns = ["Where should I go?", "And in winter?", "Thanks!"]
    for number, content in enumerate(turns, start=1):
        sent = await client.post(
            f"/ai/conversations/{conversation_id}/send",
            headers=org.headers,
            json={"content": content},
        )
        assert sent.status_code == 200, sent.text
        result = sent.json()
        assert result["message"]["role"] == "user" and result["message"]["content"] == content
        assert result["reply"]["role"] == "assistant" and result["reply"]["content"] == content
        assert result["reply"]["registrationId"] == registration["id"]
        assert result["usage"]["outputTokens"] > 0 and result["costUsd"] > 0
        upstream_messages = msgspec.json.decode(fake_upstream.requests[-1].body)["messages"]
        assert len(upstream_messages) == 1 + 2 * number - 1  # system, history, the new turn

    final = msgspec.json.decode(fake_upstream.requests[-1].body)["messages"]
    assert [m["role"] for m in final] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert final[0]["content"] == "You are terse." and final[-1]["content"] == "Thanks!"

    messages = (
        await client.get(f"/ai/conversations/{conversation_id}/messages", headers=org.headers)
    ).json()
    assert messages["total"] == 6
    assert [m["content"] for m in messages["items"]] == [t for t in turns for _ in (0, 1)]
    page_two = (
        await client.get(
            f"/ai/conversations/{conversation_id}/messages?page=2&perPage=4", headers=org.headers
        )
    ).json()
    assert [m["content"] for m in page_two["items"]] == ["Thanks!", "Thanks!"]
    got = (await client.get(f"/ai/conversations/{conversation_id}", headers=org.headers)).json()
    assert got["messageCount"] == 6


async def test_conversation_crud_and_hand_written_messages(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    created = (
        await client.post("/ai/conversations", headers=org.headers, json={"title": "Draft"})
    ).json()
    conversation_id = created["id"]
    added = await client.post(
        f"/ai/conversations/{conversation_id}/messages",
        headers=org.headers,
        json={"role": "assistant", "content": "How can I help?"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "assistant" and added.json()["conversationId"] == conversation_id
    renamed = await client.patch(
        f"/ai/conversations/{conversation_id}", headers=org.headers, json={"title": "Final"}
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Final"
    assert renamed.json()["messageCount"] == 1
    listed = (await client.get("/ai/conversations", headers=org.headers)).json()
    assert [c["id"] for c in listed["items"]] == [conversation_id]

    # Sending needs a registration: the conversation has none and the body names none.
    unbound = await client.post(
        f"/ai/conversations/{conversation_id}/send", headers=org.headers, json={"content": "hi"}
    )
    assert unbound.status_code == 400 and "registrationId" in unbound.json()["fields"]

    deleted = await client.delete(f"/ai/conversations/{conversation_id}", headers=org.headers)
    assert deleted.status_code == 204
    for path in (
        f"/ai/conversations/{conversation_id}",
        f"/ai/conversations/{conversation_id}/messages",
    ):
        assert (await client.get(path, headers=org.headers)).status_code == 404
    types = [e["type"] for e in await catalog.stored_events(f"conversation-{conversation_id}")]
    assert types == [
        "catalog.conversation.created",
        "catalog.conversation.message_added",
        "catalog.conversation.updated",
        "catalog.conversation.deleted",
    ]


async def test_a_failed_turn_appends_nothing(catalog: Catalog, fake_upstream: FakeUpstream) -> None:
    client, org = catalog.client, new_org()
    registration = await register(
        client, org, openai_url(fake_upstream), model="fake-gpt;fail=429;retry_after=7"
    )
    conversation_id = (
        await client.post("/ai/conversations", headers=org.headers, json={"title": "t"})
    ).json()["id"]
    sent = await client.post(
        f"/ai/conversations/{conversation_id}/send",
        headers=org.headers,
        json={"content": "hello", "registrationId": registration["id"]},
    )
    assert sent.status_code == 429 and sent.json()["error"].startswith("upstream rate_limited")
    messages = (
        await client.get(f"/ai/conversations/{conversation_id}/messages", headers=org.headers)
    ).json()
    assert messages["total"] == 0
