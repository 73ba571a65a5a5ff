"""The MCP server registry: CRUD, encrypted headers, credentials by request/reply."""

from __future__ import annotations

import socket
from typing import Any

from catalog_support import Catalog, new_org, running_catalog
from mcp.server.mcpserver import MCPServer
from sqlalchemy import text

from hyperstrate_contracts.catalog import (
    MCP_CREDENTIALS_SUBJECT,
    McpServerCredentials,
    McpServerCredentialsRequest,
)
from hyperstrate_kit.bus import connect_nats, request
from hyperstrate_kit.testing import Infrastructure, serve_app

TOKEN = "Bearer mcp-secret-token-1234567890"


async def test_mcp_server_story(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    created = await client.post(
        "/ai/mcp/servers",
        headers=org.headers,
        json={
            "name": "search tools",
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": TOKEN, "X-Team": "blue"},
        },
    )
    assert created.status_code == 201, created.text
    server = created.json()
    server_id = server["id"]
    assert server["transport"] == "streamable_http"
    assert server["headerNames"] == ["Authorization", "X-Team"] and TOKEN not in created.text

    updated = await client.patch(
        f"/ai/mcp/servers/{server_id}",
        headers=org.headers,
        json={"name": "search", "transport": "sse", "url": "https://mcp.example.com/sse"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["transport"] == "sse" and updated.json()["headerNames"] == [
        "Authorization",
        "X-Team",
    ]
    listed = (await client.get("/ai/mcp/servers", headers=org.headers)).json()
    assert [s["id"] for s in listed["items"]] == [server_id] and TOKEN not in str(listed)

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
    assert credentials.headers == {"Authorization": TOKEN, "X-Team": "blue"}
    assert credentials.url == "https://mcp.example.com/sse" and TOKEN not in repr(credentials)

    cleared = await client.patch(
        f"/ai/mcp/servers/{server_id}", headers=org.headers, json={"headers": {}}
    )
    assert cleared.json()["headerNames"] == []
    assert (
        await client.delete(f"/ai/mcp/servers/{server_id}", headers=org.headers)
    ).status_code == 204
    assert (
        await client.get(f"/ai/mcp/servers/{server_id}", headers=org.headers)
    ).status_code == 404

    events = await catalog.stored_events(f"mcp_server-{server_id}")
    assert [e["type"] for e in events] == [
        "catalog.mcp_server.created",
        "catalog.mcp_server.updated",
        "catalog.mcp_server.updated",
        "catalog.mcp_server.deleted",
    ]
    assert all("mcp-secret-token" not in e["data"] for e in events)
    async with catalog.database.sessions() as session:
        stored = (await session.execute(text("SELECT data::text FROM event_store"))).scalars()
        assert all("mcp-secret-token" not in row for row in stored)


async def test_mcp_server_urls_are_guarded(infrastructure: Infrastructure) -> None:
    org = new_org()
    async with running_catalog(infrastructure, OUTBOUND_ALLOW_PRIVATE="false") as catalog:
        for url in (
            "http://10.0.0.5/mcp",
            "http://127.0.0.1:3000/mcp",
            "http://metadata.internal/",
        ):
            response = await catalog.client.post(
                "/ai/mcp/servers", headers=org.headers, json={"name": "x", "url": url}
            )
            assert response.status_code == 400, (url, response.text)
            assert "url" in response.json()["fields"]
        created = await catalog.client.post(
            "/ai/mcp/servers",
            headers=org.headers,
            json={"name": "x", "url": "https://mcp.example.com/mcp"},
        )
        server_id = created.json()["id"]
        moved = await catalog.client.patch(
            f"/ai/mcp/servers/{server_id}",
            headers=org.headers,
            json={"url": "http://192.168.1.1/mcp"},
        )
        assert moved.status_code == 400 and "url" in moved.json()["fields"]


def _weather_server() -> MCPServer:
    server = MCPServer("weather")

    @server.tool()
    def forecast(city: str) -> str:
        """The weather forecast of a city."""
        return f"sunny in {city}"

    @server.tool()
    def alerts(region: str, severe_only: bool = False) -> list[str]:
        """Active weather alerts."""
        return []

    return server


def _requiring(token: str, app: Any) -> Any:
    """The app behind a check of the Authorization header (as a hosted MCP server does)."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != (
            token.encode()
        ):
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return guarded


async def test_the_check_lists_a_real_mcp_servers_tools(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    app = _requiring(TOKEN, _weather_server().streamable_http_app())
    async with serve_app(app) as mcp_url:
        created = await client.post(
            "/ai/mcp/servers",
            headers=org.headers,
            json={"name": "weather", "url": f"{mcp_url}/mcp", "headers": {"Authorization": TOKEN}},
        )
        server_id = created.json()["id"]
        checked = await client.post(f"/ai/mcp/servers/{server_id}/check", headers=org.headers)
        assert checked.status_code == 200, checked.text
        result = checked.json()
        assert result["reachable"] is True and result["error"] is None
        tools = {tool["name"]: tool for tool in result["tools"]}
        assert set(tools) == {"forecast", "alerts"}
        assert tools["forecast"]["description"] == "The weather forecast of a city."
        assert tools["forecast"]["inputSchema"]["required"] == ["city"]

        # Without the right header the server refuses: unreachable, and the token stays secret.
        await client.patch(
            f"/ai/mcp/servers/{server_id}",
            headers=org.headers,
            json={"headers": {"Authorization": TOKEN + "-wrong"}},
        )
        refused = (
            await client.post(f"/ai/mcp/servers/{server_id}/check", headers=org.headers)
        ).json()
        assert refused["reachable"] is False and refused["tools"] == []
        assert refused["error"] and "mcp-secret-token" not in refused["error"]

    other = new_org()
    hidden = await client.post(f"/ai/mcp/servers/{server_id}/check", headers=other.headers)
    assert hidden.status_code == 404


async def test_the_check_reports_an_unreachable_server(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    created = await client.post(
        "/ai/mcp/servers",
        headers=org.headers,
        json={"name": "gone", "url": f"http://127.0.0.1:{port}/mcp", "transport": "sse"},
    )
    checked = await client.post(
        f"/ai/mcp/servers/{created.json()['id']}/check", headers=org.headers
    )
    assert checked.status_code == 200
    assert checked.json()["reachable"] is False and checked.json()["error"]


async def test_the_check_speaks_the_sse_transport_too(catalog: Catalog) -> None:
    client, org = catalog.client, new_org()
    async with serve_app(_requiring(TOKEN, _weather_server().sse_app())) as mcp_url:
        created = await client.post(
            "/ai/mcp/servers",
            headers=org.headers,
            json={
                "name": "weather (sse)",
                "url": f"{mcp_url}/sse",
                "transport": "sse",
                "headers": {"Authorization": TOKEN},
            },
        )
        checked = await client.post(
            f"/ai/mcp/servers/{created.json()['id']}/check", headers=org.headers
        )
    result = checked.json()
    assert result["reachable"] is True, result
    assert {tool["name"] for tool in result["tools"]} == {"forecast", "alerts"}
