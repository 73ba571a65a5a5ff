"""The whole stack as `just up` runs it, for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest_asyncio

from hyperstrate_kit.testing import wait_for

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


READY_TIMEOUT = 240


class Stack:
    def __init__(self, data_dir: Path, base_port: int) -> None:
        self.data_dir = data_dir
        self.base_port = base_port
        self.output: list[str] = []
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, *extra: str, env: Mapping[str, str] | None = None) -> None:
        """Run `devstack up`; `env` adds variables (NATS_URL: infrastructure of the test's)."""
        given = env or {}
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env.update(given, DATA_DIR=str(self.data_dir))
        command = [
            "-m",
            "hyperstrate_kit.devstack",
            "up",
            "--base-port",
            str(self.base_port),
            # A loaded machine (CI beside other jobs) can take minutes to start nine
            # processes; a healthy one is ready in seconds, so a long bound costs nothing.
            "--ready-timeout",
            str(READY_TIMEOUT),
            *extra,
        ]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *command,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        await asyncio.wait_for(
            self._read_until("hyperstrate | Ctrl-C stops everything"), READY_TIMEOUT + 60
        )

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

    async def operator_cli(self, *args: str) -> str:
        """Run the auth operator CLI on this stack's database and NATS; its output."""
        env = {
            **os.environ,
            "DATABASE_URL": self.printed(r"PostgreSQL at (\S+),"),
            "NATS_URL": self.printed(r"NATS \(JetStream\) at (\S+),"),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hyperstrate_auth.cli", *args,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()
        return output.decode()


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


class Demo:
    """The stack plus an admin session and helpers to add registrations and routers."""

    def __init__(self, stack: Stack, admin: dict[str, str], key: str) -> None:
        self.stack, self.admin, self.key = stack, admin, key
        self.gateway = stack.url("gateway")
        self.upstream = f"http://127.0.0.1:{stack.base_port + 9}/v1"

    async def admin_call(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.gateway, timeout=20) as client:
            response = await client.request(method, path, headers=self.admin, json=body)
        assert response.status_code < 300, (path, response.text)
        return response.json() if response.content else None

    async def router(
        self,
        name: str,
        models: list[str],
        strategy: str = "round_robin",
        features: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        router = await self.admin_call("POST", "/routers", {"name": name, "strategy": strategy})
        for priority, model in enumerate(models):
            registration = await self.admin_call(
                "POST",
                "/ai/registrations",
                {
                    "name": f"{name}-{priority}",
                    "catalogKey": "fake-gpt",
                    "apiKey": "sk-x",
                    "baseUrl": self.upstream,
                    "model": model,
                },
            )
            await self.admin_call(
                "POST",
                f"/routers/{router['id']}/targets",
                {"registrationId": registration["id"], "priority": priority},
            )
        for feature_type, config in (features or {}).items():
            await self.admin_call(
                "POST",
                f"/routers/{router['id']}/features",
                {"type": feature_type, "config": config},
            )
        await self.until_answering(name)
        return str(router["id"])

    async def until_answering(self, router: str, key: str | None = None) -> None:
        async def answered() -> bool:
            async with httpx.AsyncClient(base_url=self.gateway, timeout=20) as client:
                response = await client.post(
                    "/v1/chat/completions",
                    headers={"authorization": f"Bearer {key or self.key}"},
                    json={"model": router, "messages": [{"role": "user", "content": "warm up"}]},
                )
            return response.status_code == 200

        await wait_for(answered, timeout=15, message=f"router {router} answering")

    def openai(self, key: str | None = None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.gateway}/v1", api_key=key or self.key, max_retries=0
        )


@contextlib.asynccontextmanager
async def running_demo(
    directory: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[Demo]:
    """A stack as the first `just up` leaves it, logged in as the demo's admin."""
    stack = Stack(directory / "data", _free_port_block(10))
    await stack.start(env=env)
    try:
        access = json.loads((stack.data_dir / "demo.json").read_text())
        async with httpx.AsyncClient(base_url=stack.url("gateway")) as client:
            login = (
                await client.post(
                    "/auth/login",
                    json={"email": access["admin_email"], "password": access["admin_password"]},
                )
            ).json()
        yield Demo(stack, {"authorization": f"Bearer {login['accessToken']}"}, access["api_key"])
    finally:
        await stack.interrupt()
