"""Reachability of MCP servers with the official MCP SDK client (Streamable HTTP or SSE)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from hyperstrate_catalog.application.ports import McpTool, McpUnreachable
from hyperstrate_contracts.catalog import McpTransport
from hyperstrate_kit.security import OutboundUrlGuard, UnsafeUrlError
from hyperstrate_providers.errors import redact

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["SdkMcpProbe"]


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside the SDK's task-group exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class SdkMcpProbe:
    """Lists an MCP server's tools, after the outbound guard has checked its URL (with DNS).

    The SDK resolves the name again when it connects, so a name that re-resolves to a private
    address between the two (DNS rebinding) is not caught here; the URL was also checked when
    it was registered.
    """

    def __init__(self, guard: OutboundUrlGuard, *, timeout: float = 10.0) -> None:
        self.guard = guard
        self.timeout = timeout

    async def list_tools(
        self, url: str, transport: McpTransport, headers: dict[str, str]
    ) -> list[McpTool]:
        """The server's tools (every page); raises `McpUnreachable` otherwise."""
        try:
            await self.guard.check(url)
        except UnsafeUrlError as exc:
            raise McpUnreachable(f"URL refused: {exc.reason}") from None
        failure: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                return await self._list(url, transport, headers)
        except TimeoutError:
            failure = f"no answer within {self.timeout:g}s"
        except Exception as exc:
            leaf = _leaf(exc)
            failure = f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
        raise McpUnreachable(redact(failure, headers.values())[:500])

    async def _list(
        self, url: str, transport: McpTransport, headers: dict[str, str]
    ) -> list[McpTool]:
        # Imported on first use: the SDK is heavy, and only checks need it.
        import httpx2
        from mcp import Client
        from mcp.client.sse import sse_client
        from mcp.client.streamable_http import streamable_http_client

        tools: list[McpTool] = []
        if transport == "sse":
            connection = Client(sse_client(url, headers=headers, timeout=self.timeout))
            async with connection as client:
                await self._collect(client, tools)
        else:
            async with httpx2.AsyncClient(headers=headers, timeout=self.timeout) as http:
                connection = Client(streamable_http_client(url, http_client=http))
                async with connection as client:
                    await self._collect(client, tools)
        return tools

    @staticmethod
    async def _collect(client: Client, tools: list[McpTool]) -> None:
        cursor: str | None = None
        for _ in range(100):  # a server that pages forever is cut off
            page = await client.list_tools(cursor=cursor)
            tools.extend(
                McpTool(name=t.name, description=t.description, input_schema=t.input_schema)
                for t in page.tools
            )
            cursor = page.next_cursor
            if not cursor:
                return
