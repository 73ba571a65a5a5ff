"""`just up` end to end: NATS, PostgreSQL and all six services come up ready, stop
cleanly on Ctrl-C, and find their data again on the next start."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio

SERVICES = ("gateway", "auth", "catalog", "router", "prompts", "observability")
pytestmark = pytest.mark.e2e


def _free_port_block(size: int = 6) -> int:
    for _ in range(100):
        base = random.randint(20000, 40000)
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port block")


class Stack:
    def __init__(self, data_dir: Path, base_port: int) -> None:
        self.data_dir = data_dir
        self.base_port = base_port
        self.output: list[str] = []
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env.update(DATA_DIR=str(self.data_dir))
        command = ["-m", "hyperstrate_kit.devstack", "up", "--base-port", str(self.base_port)]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *command,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        await asyncio.wait_for(self._read_until("hyperstrate | Ctrl-C stops everything"), 120)

    async def _read_until(self, marker: str) -> None:
        assert self.process and self.process.stdout
        while line := (await self.process.stdout.readline()).decode():
            self.output.append(line)
            if marker in line:
                return
        raise AssertionError("stack exited early:\n" + "".join(self.output[-40:]))

    def printed(self, pattern: str) -> str:
        for line in self.output:
            if match := re.search(pattern, line):
                return match.group(1)
        raise AssertionError(f"{pattern!r} not printed")

    async def interrupt(self) -> int:
        assert self.process and self.process.stdout
        self.process.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(self.process.stdout.read(), 60)
        self.output.append(rest.decode())
        return await asyncio.wait_for(self.process.wait(), 60)


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = Stack(tmp_path / "data", _free_port_block())
    try:
        yield running
    finally:
        if running.process and running.process.returncode is None:
            running.process.kill()
            await running.process.wait()


async def test_just_up_brings_every_service_up_and_data_survives_a_restart(stack: Stack) -> None:
    await stack.start()
    urls = {name: f"http://127.0.0.1:{stack.base_port + i}" for i, name in enumerate(SERVICES)}
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{stack.base_port}/v1" in "".join(stack.output)
    async with httpx.AsyncClient(timeout=5) as client:
        for name, url in urls.items():
            assert (await client.get(f"{url}/healthz")).json() == {"status": "ok"}, name
            ready = (await client.get(f"{url}/readyz")).json()
            assert ready["status"] == "ready" and ready["checks"]["nats"] is True, name
            assert name == "gateway" or ready["checks"]["database"] is True
            assert "hyperstrate_relay_published_total" in (await client.get(f"{url}/metrics")).text
            spec = (await client.get(f"{url}/swagger/openapi.json")).json()
            assert spec["info"]["title"] == f"hyperstrate {name}"

    pg_url = stack.printed(r"PostgreSQL at (\S+),")
    conn = await asyncpg.connect(pg_url.rsplit("/", 1)[0] + "/hyperstrate_auth")
    await conn.execute(
        "CREATE TABLE survives_restart (note text); INSERT INTO survives_restart VALUES ('kept')"
    )
    await conn.close()

    assert await stack.interrupt() == 0
    assert "hyperstrate | stopped" in "".join(stack.output)

    stack.output.clear()
    await stack.start()
    pg_url = stack.printed(r"PostgreSQL at (\S+),")
    conn = await asyncpg.connect(pg_url.rsplit("/", 1)[0] + "/hyperstrate_auth")
    assert await conn.fetchval("SELECT note FROM survives_restart") == "kept"
    await conn.close()
    assert await stack.interrupt() == 0
