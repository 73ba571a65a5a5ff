"""The MCP server registry: servers the router's `mcp_tools` feature can call, with their
auth headers encrypted at rest and handed out only by request/reply."""

from __future__ import annotations

import time

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_catalog.application import dto
from hyperstrate_catalog.application.common import merge
from hyperstrate_catalog.application.ports import McpProbe, McpUnreachable, SecretVault
from hyperstrate_catalog.domain.model import McpServerNotFound, new_id, stream_id
from hyperstrate_catalog.infrastructure.repository import CatalogRepository
from hyperstrate_catalog.infrastructure.tables import mcp_servers
from hyperstrate_contracts.catalog import (
    McpServerCreated,
    McpServerCredentials,
    McpServerDeleted,
    McpServerUpdated,
)
from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams

__all__ = ["McpServerService"]

_HEADERS = msgspec.json.Decoder(dict[str, str])


def _secret_context(server_id: str) -> str:
    return f"mcp-server:{server_id}"


class McpServerService:
    """CRUD of the organisation's MCP servers."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: CatalogRepository,
        vault: SecretVault,
        probe: McpProbe,
    ) -> None:
        self.database = database
        self.store = store
        self.repo = repository
        self.vault = vault
        self.probe = probe

    async def create(self, org_id: str, data: dto.McpServerCreate) -> dto.McpServerView:
        """Register an MCP server."""
        server_id = new_id("mcp")
        async with self.database.transaction() as session:
            await self.store.append(
                stream_id("mcp_server", server_id),
                0,
                [
                    McpServerCreated(
                        org_id=org_id,
                        aggregate_id=server_id,
                        name=data.name,
                        url=data.url,
                        transport=data.transport,
                        header_names=tuple(sorted(data.headers)),
                    )
                ],
                session=session,
            )
            if data.headers:
                await self._store_headers(session, server_id, org_id, data.headers)
            view = await self.repo.mcp_server(session, org_id, server_id)
        assert view is not None
        return view

    async def _store_headers(
        self, session: AsyncSession, server_id: str, org_id: str, headers: dict[str, str]
    ) -> None:
        sealed = self.vault.seal(
            msgspec.json.encode(headers).decode(), context=_secret_context(server_id)
        )
        await self.repo.store_mcp_headers(session, server_id, org_id, sealed)

    async def list_page(self, org_id: str, page: PageParams) -> tuple[list[dto.McpServerView], int]:
        """The organisation's MCP servers."""
        async with self.database.sessions() as session:
            return await self.repo.mcp_servers_of(session, org_id, page)

    async def get(self, org_id: str, server_id: str) -> dto.McpServerView:
        """One MCP server of the organisation."""
        async with self.database.sessions() as session:
            view = await self.repo.mcp_server(session, org_id, server_id)
        if view is None:
            raise McpServerNotFound()
        return view

    async def update(
        self, org_id: str, server_id: str, data: dto.McpServerUpdate
    ) -> dto.McpServerView:
        """Change the name, URL, transport or headers (given headers replace all)."""
        async with self.database.transaction() as session:
            current = await self.repo.mcp_server(session, org_id, server_id)
            row = await self.repo.versioned(session, mcp_servers, org_id, server_id)
            if current is None or row is None:
                raise McpServerNotFound()
            merged = merge(msgspec.structs.asdict(current), data)
            header_names = tuple(current.header_names)
            if data.headers is not msgspec.UNSET:
                header_names = tuple(sorted(data.headers))
                if data.headers:
                    await self._store_headers(session, server_id, org_id, data.headers)
                else:
                    await self.repo.forget_mcp_headers(session, server_id)
            await self.store.append(
                stream_id("mcp_server", server_id),
                row.version,
                [
                    McpServerUpdated(
                        org_id=org_id,
                        aggregate_id=server_id,
                        name=merged["name"],
                        url=merged["url"],
                        transport=merged["transport"],
                        header_names=header_names,
                        credentials_changed=data.headers is not msgspec.UNSET
                        or merged["url"] != current.url,
                    )
                ],
                session=session,
            )
            view = await self.repo.mcp_server(session, org_id, server_id)
        assert view is not None
        return view

    async def delete(self, org_id: str, server_id: str) -> None:
        """Remove an MCP server and its headers."""
        async with self.database.transaction() as session:
            row = await self.repo.versioned(session, mcp_servers, org_id, server_id)
            if row is None:
                raise McpServerNotFound()
            await self.store.append(
                stream_id("mcp_server", server_id),
                row.version,
                [McpServerDeleted(org_id=org_id, aggregate_id=server_id)],
                session=session,
            )
            await self.repo.forget_mcp_headers(session, server_id)

    async def credentials(self, org_id: str, server_id: str) -> McpServerCredentials:
        """The server's URL and decrypted headers (for `svc.catalog.mcp_credentials`)."""
        async with self.database.sessions() as session:
            view = await self.repo.mcp_server(session, org_id, server_id)
            sealed = await self.repo.sealed_mcp_headers(session, org_id, server_id)
        if view is None:
            raise McpServerNotFound()
        headers = (
            _HEADERS.decode(self.vault.open(sealed, context=_secret_context(server_id)))
            if sealed
            else {}
        )
        return McpServerCredentials(
            server_id=view.id,
            org_id=view.org_id,
            url=view.url,
            transport=view.transport,
            headers=headers,
        )

    async def check(self, org_id: str, server_id: str) -> dto.McpCheckResult:
        """Connect to the server with its headers and list its tools."""
        credentials = await self.credentials(org_id, server_id)
        started = time.perf_counter()
        try:
            tools = await self.probe.list_tools(
                credentials.url, credentials.transport, credentials.headers
            )
        except McpUnreachable as exc:
            return dto.McpCheckResult(
                reachable=False,
                tools=[],
                error=str(exc),
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        return dto.McpCheckResult(
            reachable=True,
            tools=[
                dto.McpToolView(
                    name=tool.name, description=tool.description, input_schema=tool.input_schema
                )
                for tool in tools
            ],
            error=None,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
