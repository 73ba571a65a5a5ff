"""One pooled ``httpx.AsyncClient`` per upstream origin, with keep-alive and timeouts."""

from __future__ import annotations

import importlib.util
from types import TracebackType
from urllib.parse import urlsplit

import httpx

__all__ = ["ClientPool", "http2_available"]


def http2_available() -> bool:
    """Whether the optional ``h2`` package is installed (httpx needs it for HTTP/2)."""
    return importlib.util.find_spec("h2") is not None


class ClientPool:
    """Hands out one shared ``httpx.AsyncClient`` per ``scheme://host:port``.

    Clients are created on first use and keep their connections alive between calls. Timeouts
    are httpx's: ``read_timeout`` bounds each wait for bytes (between stream chunks too).
    HTTP/2 is used for https origins when ``http2`` is True, or when it is None and ``h2`` is
    installed. Close the pool (``aclose`` or ``async with``) to close every client.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        write_timeout: float = 30.0,
        pool_timeout: float = 10.0,
        max_connections: int = 200,
        max_keepalive_connections: int = 50,
        keepalive_expiry: float = 30.0,
        http2: bool | None = None,
        trust_env: bool = True,
    ) -> None:
        """Configure the clients that will be created (nothing is opened yet)."""
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
        )
        self._http2 = http2_available() if http2 is None else http2
        self._trust_env = trust_env
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._closed = False

    @property
    def timeout(self) -> httpx.Timeout:
        """The default timeouts of every client."""
        return self._timeout

    @property
    def origins(self) -> list[str]:
        """Origins that have a client."""
        return list(self._clients)

    def client_for(self, url: str) -> httpx.AsyncClient:
        """The shared client for the origin of ``url``."""
        if self._closed:
            raise RuntimeError("the client pool is closed")
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        client = self._clients.get(origin)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self._timeout,
                limits=self._limits,
                http2=self._http2 and parts.scheme == "https",
                trust_env=self._trust_env,
                follow_redirects=False,
            )
            self._clients[origin] = client
        return client

    async def aclose(self) -> None:
        """Close every client and refuse new ones."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
