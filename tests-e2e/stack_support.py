"""The whole stack as `just up` runs it, for end-to-end tests."""

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

import pytest_asyncio

SERVICES = ("gateway", "auth", "catalog", "router", "prompts", "observability")


def _free_port_block(size: int = 10) -> int:
    for _ in range(100):
        # Below Linux's ephemeral range (32768+), which client sockets and free_port() draw
        # from: a service port there can be taken by the time the service binds it.
        base = random.randint(20000, 32000)
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

    async def start(self, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env.update(DATA_DIR=str(self.data_dir))
        command = [
            "-m",
            "hyperstrate_kit.devstack",
            "up",
            "--base-port",
            str(self.base_port),
            *extra,
        ]
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
        raise AssertionError("stack exited early:\n" + "".join(self.output[-150:]))

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

    def url(self, service: str) -> str:
        """The base URL of one service."""
        return f"http://127.0.0.1:{self.base_port + SERVICES.index(service)}"


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = Stack(tmp_path / "data", _free_port_block())
    try:
        yield running
    finally:
        if running.process and running.process.returncode is None:
            try:
                await running.interrupt()  # as a user stops it: services, then NATS and PG
            except TimeoutError:
                running.process.kill()
                await running.process.wait()
