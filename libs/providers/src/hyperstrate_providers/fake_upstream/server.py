"""The fake upstream's HTTP/1.1 server: a plain asyncio Protocol with the httptools parser.

Fast by construction: a request whose script asks for no waiting is parsed, answered and
written inside ``data_received``, with no task, no framework and keep-alive. Requests that
wait (latency, hanging) run in one task per connection; later pipelined requests queue
behind it so answers keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import cast

import httptools

from hyperstrate_providers.fake_upstream.routes import (
    DEFAULT_MODELS,
    HttpRequest,
    RecordedRequest,
    Reply,
    Router,
)

__all__ = ["FakeUpstream", "start_fake_upstream"]

_TERMINAL_CHUNK = b"0\r\n\r\n"


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def _head(reply: Reply, *, keep_alive: bool, chunked: bool) -> bytes:
    lines = [_status_line(reply.status), b"content-type: ", reply.content_type.encode(), b"\r\n"]
    if chunked:
        lines.append(b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n")
    else:
        lines.append(b"content-length: %d\r\n" % len(reply.body))
    for name, value in reply.headers:
        lines.append(f"{name}: {value}\r\n".encode())
    if not keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    return b"".join(lines)


def _chunk(frame: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(frame), frame)


class _Connection(asyncio.Protocol):
    """One client connection: parses requests and writes replies in order."""

    def __init__(self, server: FakeUpstream) -> None:
        self._server = server
        self._router = server.router
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._queue: deque[tuple[HttpRequest, bool]] = deque()
        self._task: asyncio.Task[None] | None = None

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        if self._task is not None:
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                self._transport.close()

    # httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        url = httptools.parse_url(self._url)
        request = HttpRequest(
            method=self._parser.get_method().decode(),
            path=url.path.decode("latin-1"),
            query=(url.query or b"").decode("latin-1"),
            headers=self._headers,
            body=b"".join(self._body),
        )
        keep_alive = self._parser.should_keep_alive()
        if self._task is not None:
            self._queue.append((request, keep_alive))
        else:
            self._dispatch(request, keep_alive)

    # replies ------------------------------------------------------------------------------

    def _dispatch(self, request: HttpRequest, keep_alive: bool) -> None:
        reply = self._router.handle(request)
        if reply.immediate:
            self._write_now(reply, keep_alive)
        else:
            self._task = asyncio.get_running_loop().create_task(self._play(reply, keep_alive))

    def _write_now(self, reply: Reply, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        if reply.close_without_reply:
            transport.close()
            return
        if reply.frames is None:
            transport.write(_head(reply, keep_alive=keep_alive, chunked=False) + reply.body)
        else:
            frames = reply.frames
            if reply.break_after is not None:
                frames = frames[: reply.break_after]
            parts = [_head(reply, keep_alive=keep_alive, chunked=True)]
            parts.extend(_chunk(frame) for frame in frames)
            if reply.break_after is not None:
                transport.write(b"".join(parts))
                transport.close()
                return
            parts.append(_TERMINAL_CHUNK)
            transport.write(b"".join(parts))
        if not keep_alive:
            transport.close()

    async def _play(self, reply: Reply, keep_alive: bool) -> None:
        try:
            if reply.hang:
                await asyncio.get_running_loop().create_future()
            if reply.latency_s:
                await asyncio.sleep(reply.latency_s)
            if reply.frames is None or not reply.chunk_latency_s:
                self._write_now(reply, keep_alive)
            else:
                await self._play_frames(reply, reply.frames, keep_alive)
        finally:
            self._task = None
        while self._queue and self._task is None and self._transport is not None:
            request, queued_keep_alive = self._queue.popleft()
            self._dispatch(request, queued_keep_alive)

    async def _play_frames(self, reply: Reply, frames: list[bytes], keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.write(_head(reply, keep_alive=keep_alive, chunked=True))
        for position, frame in enumerate(frames):
            if reply.break_after is not None and position >= reply.break_after:
                transport.close()
                return
            if position:
                await asyncio.sleep(reply.chunk_latency_s)
            if transport.is_closing():
                return
            transport.write(_chunk(frame))
        transport.write(_TERMINAL_CHUNK)
        if not keep_alive:
            transport.close()

    def abort(self) -> None:
        """Drop the connection (server shutdown)."""
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()


class FakeUpstream:
    """An OpenAI-, Anthropic-, Azure- and Gemini-compatible fake LLM server.

    Start it with ``async with FakeUpstream() as upstream`` (or ``await start()`` /
    ``await close()``) on the running event loop; it binds 127.0.0.1 on a free port by default.
    With ``record_requests=True`` every request is kept in :attr:`requests`.
    """

    def __init__(
        self, *, models: Sequence[str] = DEFAULT_MODELS, record_requests: bool = False
    ) -> None:
        """Configure the server (nothing is bound yet)."""
        self.router = Router(models=models, record=record_requests)
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._host = ""
        self._port = 0

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``: the Anthropic, Gemini and Azure base URL."""
        if self._server is None:
            raise RuntimeError("the fake upstream is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """``http://host:port/v1``: the OpenAI-style base URL."""
        return f"{self.base_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far (empty unless ``record_requests``)."""
        return self.router.recorded if self.router.recorded is not None else []

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Bind and listen; return the base URL."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host=host, port=port, reuse_address=True, backlog=1024
        )
        socket_name = self._server.sockets[0].getsockname()
        self._host, self._port = str(socket_name[0]), int(socket_name[1])
        return self.base_url

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self._server is None:
            raise RuntimeError("call start() first")
        await self._server.serve_forever()

    async def close(self) -> None:
        """Stop listening and drop every connection (hanging requests end too)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in list(self.connections):
            connection.abort()
        await server.wait_closed()

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def start_fake_upstream(
    host: str = "127.0.0.1", port: int = 0, *, record_requests: bool = False
) -> AsyncIterator[str]:
    """Run a fake upstream for the duration of the block; yield its base URL."""
    upstream = FakeUpstream(record_requests=record_requests)
    base_url = await upstream.start(host, port)
    try:
        yield base_url
    finally:
        await upstream.close()
