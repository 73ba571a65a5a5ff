"""Secrets sent as header values (a registration's `apiKey`, an MCP server's `headers`): a
line break or another control character is a 400 naming the field (never echoing the secret),
spaces around them are trimmed and never sent."""

from __future__ import annotations

import pytest
from catalog_support import Catalog, new_org, openai_url, register

from hyperstrate_contracts.catalog import (
    MCP_CREDENTIALS_SUBJECT,
    McpServerCredentials,
    McpServerCredentialsRequest,
)
from hyperstrate_kit.bus import connect_nats, request
from hyperstrate_providers.fake_upstream import FakeUpstream

UNSENDABLE = [
    "sk-live-1234\r\nX-Injected: yes",  # header injection
    "sk-live-1234\n",
    "sk-live\t1234",
    "sk-live-1234\x00",
    "sk-live-\u00e91234",  # the HTTP client cannot encode it
]
REGISTRATION = {"name": "r", "catalogKey": "fake-gpt", "baseUrl": "https://llm.example.com/v1"}


@pytest.mark.parametrize("api_key", UNSENDABLE)
async def test_an_unsendable_api_key_is_a_400_naming_it_on_create_and_update(
    catalog: Catalog, api_key: str
) -> None:
    org = new_org()
    created = await catalog.client.post(
        "/ai/registrations", headers=org.headers, json={**REGISTRATION, "apiKey": api_key}
    )
    assert created.status_code == 400, created.text
    assert list(created.json()["fields"]) == ["apiKey"]
    assert "control characters" in created.json()["fields"]["apiKey"][0]
    assert "1234" not in created.text

    registration = await register(catalog.client, org, "https://llm.example.com/v1")
    updated = await catalog.client.patch(
        f"/ai/registrations/{registration['id']}", headers=org.headers, json={"apiKey": api_key}
    )
    assert updated.status_code == 400 and list(updated.json()["fields"]) == ["apiKey"]


async def test_spaces_around_an_api_key_are_trimmed_before_it_is_sent(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    registration = await register(
        catalog.client, org, openai_url(fake_upstream), api_key="  sk-padded-key  "
    )
    answered = await catalog.client.post(
        "/ai/infer",
        headers=org.headers,
        json={"registrationId": registration["id"], "messages": [{"role": "user", "content": "x"}]},
    )
    assert answered.status_code == 200, answered.text
    assert fake_upstream.requests[-1].headers["authorization"] == "Bearer sk-padded-key"


async def test_mcp_header_values_follow_the_same_rule(catalog: Catalog) -> None:
    org = new_org()
    body = {"name": "m", "url": "https://mcp.example.com/mcp"}
    refused = await catalog.client.post(
        "/ai/mcp/servers",
        headers=org.headers,
        json={**body, "headers": {"Authorization": "Bearer t0ken\r\nX-Evil: 1"}},
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["fields"]["headers"][0].startswith("Authorization: must be printable")
    assert "t0ken" not in refused.text

    created = await catalog.client.post(
        "/ai/mcp/servers",
        headers=org.headers,
        json={**body, "headers": {"Authorization": " Bearer t0ken "}},
    )
    assert created.status_code == 201, created.text
    server_id = created.json()["id"]
    patched = await catalog.client.patch(
        f"/ai/mcp/servers/{server_id}", headers=org.headers, json={"headers": {"X-A": "a\nb"}}
    )
    assert patched.status_code == 400 and "headers" in patched.json()["fields"]

    nc = await connect_nats(catalog.settings.nats_url, "test-router")
    try:
        credentials = await request(
            nc,
            MCP_CREDENTIALS_SUBJECT,
            McpServerCredentialsRequest(org_id=org.org_id, server_id=server_id),
            McpServerCredentials,
        )
    finally:
        await nc.drain()
    assert credentials.headers == {"Authorization": "Bearer t0ken"}
