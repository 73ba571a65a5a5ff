"""Bad input is a 400 naming the field, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from catalog_support import Catalog, new_org, register

MESSAGES = [{"role": "user", "content": "hi"}]
REGISTRATION = {"name": "r", "catalogKey": "fake-gpt", "baseUrl": "https://llm.example.com/v1"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/ai/registrations", {**REGISTRATION, "name": ""}, "name"),
        ("/ai/registrations", {**REGISTRATION, "name": "x" * 256}, "name"),
        ("/ai/registrations", {**REGISTRATION, "catalogKey": "gpt-99"}, "catalogKey"),
        ("/ai/registrations", {**REGISTRATION, "baseUrl": "ftp://x.example"}, "baseUrl"),
        ("/ai/registrations", {"name": "r", "catalogKey": "fake-gpt"}, "baseUrl"),
        ("/ai/registrations", {**REGISTRATION, "apiKeys": "typo"}, "apiKeys"),
        ("/ai/conversations", {"title": ""}, "title"),
        ("/ai/conversations", {"title": "t" * 256}, "title"),
        ("/ai/conversations", {"title": "t", "registrationId": "r" * 101}, "registrationId"),
        ("/ai/mcp/servers", {"name": "m", "url": "not-a-url"}, "url"),
        ("/ai/mcp/servers", {"name": "", "url": "https://m.example.com"}, "name"),
        (
            "/ai/mcp/servers",
            {"name": "m", "url": "https://m.example.com", "transport": "carrier-pigeon"},
            "transport",
        ),
        (
            "/ai/mcp/servers",
            {"name": "m", "url": "https://m.example.com", "headers": {"Bad Header": "x"}},
            "headers",
        ),
        (
            "/ai/jobs",
            {"registrationId": "r", "messages": MESSAGES, "callbackUrl": "x"},
            "callbackUrl",
        ),
        ("/ai/jobs", {"registrationId": "r", "messages": []}, "messages"),
        (
            "/ai/infer",
            {"registrationId": "r", "messages": MESSAGES, "temperature": 3},
            "temperature",
        ),
        ("/ai/infer", {"registrationId": "r", "messages": MESSAGES, "maxTokens": 0}, "maxTokens"),
        ("/ai/infer", {"messages": MESSAGES}, "registrationId"),
    ],
)
async def test_bad_bodies_name_the_field(
    catalog: Catalog, path: str, body: dict[str, Any], field: str
) -> None:
    org = new_org()
    response = await catalog.client.post(path, headers=org.headers, json=body)
    assert response.status_code == 400, response.text
    assert any(key.startswith(field) for key in response.json()["fields"]), response.json()


async def test_message_roles_are_user_or_assistant(catalog: Catalog) -> None:
    org = new_org()
    conversation_id = (
        await catalog.client.post("/ai/conversations", headers=org.headers, json={"title": "t"})
    ).json()["id"]
    for role in ("system", "tool", "", "USER"):
        response = await catalog.client.post(
            f"/ai/conversations/{conversation_id}/messages",
            headers=org.headers,
            json={"role": role, "content": "hi"},
        )
        assert response.status_code == 400 and "role" in response.json()["fields"], role
    empty = await catalog.client.post(
        f"/ai/conversations/{conversation_id}/messages",
        headers=org.headers,
        json={"role": "user", "content": ""},
    )
    assert empty.status_code == 400 and "content" in empty.json()["fields"]


async def test_malformed_chat_messages_name_the_messages_field(catalog: Catalog) -> None:
    org = new_org()
    registration = await register(catalog.client, org, "http://127.0.0.1:9/v1")
    response = await catalog.client.post(
        "/ai/infer",
        headers=org.headers,
        json={"registrationId": registration["id"], "messages": [{"role": 7, "content": "x"}]},
    )
    assert response.status_code == 400 and "messages" in response.json()["fields"], response.text


async def test_path_params_and_filters_over_100_characters_are_400(catalog: Catalog) -> None:
    org = new_org()
    long_id = "x" * 101
    for method, path in (
        ("GET", f"/ai/registrations/{long_id}"),
        ("PATCH", f"/ai/registrations/{long_id}"),
        ("DELETE", f"/ai/conversations/{long_id}"),
        ("GET", f"/ai/conversations/{long_id}/messages"),
        ("GET", f"/ai/jobs/{long_id}"),
        ("DELETE", f"/ai/mcp/servers/{long_id}"),
        ("GET", f"/ai/catalog?provider={long_id}"),
        ("GET", "/ai/jobs?status=exploded"),
        ("GET", "/ai/registrations?perPage=501"),
    ):
        response = await catalog.client.request(method, path, headers=org.headers, json={})
        assert response.status_code == 400, (method, path, response.text)
