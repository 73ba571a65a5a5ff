"""`just up`: the whole stack on one machine, on embedded defaults.

Starts NATS (JetStream) and PostgreSQL from their wheels unless `NATS_URL` / `DATABASE_URL`
point elsewhere, then every service as its own process with name-prefixed logs (plus the
catalog's job worker and the fake upstream the demo uses), waits for each `/readyz`, seeds a
demo on first start (organisation, admin, API key, a registration on the fake upstream and a
router) and prints where to point an OpenAI client. Ctrl-C stops everything. All state lives
under `DATA_DIR` (default `.data`), so it survives a restart and a second stack can run from
another directory with `HYPERSTRATE_BASE_PORT` set. A router set to a Redis backend
(`CACHE_BACKEND` / `RATE_LIMIT_BACKEND=redis`) without `CACHE_REDIS_ADDR` gets an embedded
valkey-server, in memory only: its cache, limits and budgets start empty on every start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hyperstrate_kit.demo import DemoAccess, seed_demo
from hyperstrate_kit.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedRedis,
    die_with_parent,
)
from hyperstrate_kit.settings import _layered_environment

__all__ = ["PROCESSES", "SERVICES", "main"]


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the stack: `python -m module [args]` on base port + offset."""

    name: str
    module: str
    port_offset: int | None  # None: no HTTP port (a worker)
    ready_path: str = "/readyz"
    args: tuple[str, ...] = ()


#: (name, module, port offset) of the six services; the gateway is the base port (8090).
SERVICES: tuple[tuple[str, str, int], ...] = (
    ("auth", "hyperstrate_auth", 1),
    ("catalog", "hyperstrate_catalog", 2),
    ("router", "hyperstrate_router", 3),
    ("prompts", "hyperstrate_prompts", 4),
    ("observability", "hyperstrate_observability", 5),
    ("gateway", "hyperstrate_gateway", 0),
)
FAKE_UPSTREAM_OFFSET = 9
PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec(
        "fake-upstream", "hyperstrate_providers.fake_upstream", FAKE_UPSTREAM_OFFSET, "/health"
    ),
    *(ProcessSpec(name, module, offset) for name, module, offset in SERVICES),
    ProcessSpec("catalog-worker", "hyperstrate_catalog.worker", None),
)
_COLORS = (
    "\x1b[90m",
    "\x1b[35m",
    "\x1b[36m",
    "\x1b[33m",
    "\x1b[34m",
    "\x1b[32m",
    "\x1b[1;37m",
    "\x1b[96m",
)
_RESET = "\x1b[0m"
#: A process that exits more often than this within the window stops the stack.
MAX_RESTARTS, RESTART_WINDOW_SECONDS = 3, 60.0


@dataclass
class RunningProcess:
    spec: ProcessSpec
    port: int | None
    process: asyncio.subprocess.Process
    output_pipe: asyncio.Task[None]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _say(message: str) -> None:
    print(f"hyperstrate | {message}", flush=True)


async def _pipe_output(name: str, color: str, stream: asyncio.StreamReader, width: int) -> None:
    prefix = f"{color}{name:<{width}}{_RESET} | " if sys.stdout.isatty() else f"{name:<{width}} | "
    while line := await stream.readline():
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


async def _start(
    spec: ProcessSpec, base_port: int, env: dict[str, str], color: str
) -> RunningProcess:
    port = None if spec.port_offset is None else base_port + spec.port_offset
    child_env = {"LOG_FORMAT": "console", **env, "HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    args = list(spec.args)
    if port is not None:
        child_env["PORT"] = str(port)
        if spec.name == "fake-upstream":
            args += ["--port", str(port)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        spec.module,
        *args,
        env=child_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        # A stack killed outright (SIGKILL, a closed terminal) takes its services with it.
        preexec_fn=lambda: die_with_parent(signal.SIGTERM),
    )
    assert process.stdout is not None
    piping = asyncio.create_task(_pipe_output(spec.name, color, process.stdout, 14))
    return RunningProcess(spec, port, process, piping)


async def _wait_ready(processes: list[RunningProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = [p for p in processes if p.port is not None]
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            for running in list(pending):
                if running.process.returncode is not None:
                    raise RuntimeError(
                        f"{running.spec.name} exited with code {running.process.returncode}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        await client.get(f"{running.url}{running.spec.ready_path}")
                    ).status_code == 200:
                        pending.remove(running)
            if pending and time.monotonic() > deadline:
                raise RuntimeError("not ready in time: " + ", ".join(p.spec.name for p in pending))
            await asyncio.sleep(0.1)
    for running in processes:  # workers: alive is ready
        if running.process.returncode is not None:
            raise RuntimeError(f"{running.spec.name} exited with code {running.process.returncode}")


async def _stop(processes: list[RunningProcess]) -> None:
    for running in processes:
        if running.process.returncode is None:
            running.process.send_signal(signal.SIGTERM)
    for running in processes:
        try:
            await asyncio.wait_for(running.process.wait(), 35)
        except TimeoutError:
            running.process.kill()


async def run_stack(
    data_dir: Path, base_port: int, exit_when_ready: bool, ready_timeout: float, seed: bool = True
) -> int:
    """Start everything, report, wait for Ctrl-C (or return once ready), stop everything."""
    started = time.monotonic()
    env = dict(os.environ, DATA_DIR=str(data_dir))
    embedded: list[EmbeddedNats | EmbeddedPostgres | EmbeddedRedis] = []
    processes: list[RunningProcess] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if not env.get("NATS_URL"):
            nats_server = EmbeddedNats(
                data_dir / "nats", port=int(env.get("EMBEDDED_NATS_PORT", "0"))
            )
            embedded.append(nats_server)
            env["NATS_URL"] = await asyncio.to_thread(nats_server.start)
            _say(f"NATS (JetStream) at {env['NATS_URL']}, data in {nats_server.data_dir}")
        if not env.get("DATABASE_URL"):
            postgres = EmbeddedPostgres(data_dir / "pg", port=int(env.get("EMBEDDED_PG_PORT", "0")))
            embedded.append(postgres)
            env["DATABASE_URL"] = await asyncio.to_thread(postgres.start)
            _say(f"PostgreSQL at {env['DATABASE_URL']}, data in {postgres.data_dir}")
        if _wants_embedded_redis(env):
            redis = EmbeddedRedis(data_dir / "redis")
            embedded.append(redis)
            await asyncio.to_thread(redis.start)
            env["CACHE_REDIS_ADDR"] = redis.address
            _say(f"Redis (valkey-server) at {redis.address}, in memory only")
        # The demo's provider is the fake upstream on loopback: let this local stack reach it.
        env.setdefault("OUTBOUND_ALLOWED_HOSTS", "127.0.0.1")
        for name, _, offset in SERVICES:  # the gateway finds the admin APIs here
            env[f"{name.upper()}_SERVICE_URL"] = f"http://127.0.0.1:{base_port + offset}"
        for spec, color in zip(PROCESSES, _COLORS, strict=True):
            processes.append(await _start(spec, base_port, env, color))
        ready = asyncio.create_task(_wait_ready(processes, ready_timeout))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            return 130
        ready.result()
        demo = await _seed(data_dir, base_port, env) if seed else None
        _report(processes, base_port, time.monotonic() - started, demo)
        if not exit_when_ready:
            return await _supervise(processes, stopped, base_port, env)
        return 0
    except RuntimeError as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping")
        await _stop(processes)
        for server in reversed(embedded):
            await asyncio.to_thread(server.stop)
        _say("stopped")


async def _supervise(
    processes: list[RunningProcess], stopped: asyncio.Task[Any], base_port: int, env: dict[str, str]
) -> int:
    """Until Ctrl-C, start again a process that exits (as an orchestrator would); one that
    keeps exiting stops the stack."""
    exits: dict[int, list[float]] = {}  # process index -> recent exit times
    while True:
        waits = {asyncio.create_task(p.process.wait()): n for n, p in enumerate(processes)}
        done, _ = await asyncio.wait({stopped, *waits}, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        if stopped in done:
            return 0
        for task in done:
            index = waits[task]
            running = processes[index]
            now = time.monotonic()
            recent = [t for t in exits.get(index, []) if now - t < RESTART_WINDOW_SECONDS]
            exits[index] = [*recent, now]
            if len(exits[index]) > MAX_RESTARTS:
                _say(f"{running.spec.name} keeps exiting; stopping the stack")
                return 1
            _say(f"{running.spec.name} exited with code {running.process.returncode}; restarting")
            color = _COLORS[PROCESSES.index(running.spec)]
            processes[index] = await _start(running.spec, base_port, env, color)


def _wants_embedded_redis(env: dict[str, str]) -> bool:
    """The router is set (here or in its .env files) to a Redis backend without an address."""
    router_env = _layered_environment(env, Path.cwd())
    backends = (router_env.get("CACHE_BACKEND"), router_env.get("RATE_LIMIT_BACKEND"))
    return "redis" in backends and not router_env.get("CACHE_REDIS_ADDR")


async def _seed(data_dir: Path, base_port: int, env: dict[str, str]) -> DemoAccess | None:
    try:
        return await seed_demo(
            gateway_url=f"http://127.0.0.1:{base_port}",
            upstream_url=f"http://127.0.0.1:{base_port + FAKE_UPSTREAM_OFFSET}",
            state_file=data_dir / "demo.json",
            admin_email=env.get("ADMIN_EMAIL", ""),
            admin_password=env.get("ADMIN_PASSWORD", ""),
        )
    except Exception as exc:  # the stack is up; the demo is a convenience
        _say(f"demo not seeded: {exc}")
        return None


def _report(
    processes: list[RunningProcess], base_port: int, elapsed: float, demo: DemoAccess | None
) -> None:
    gateway = f"http://127.0.0.1:{base_port}"
    _say(f"ready in {elapsed:.1f}s")
    for running in processes:
        if running.spec.name == "fake-upstream":
            _say(f"  {running.spec.name:<14} {running.url}  (the demo's provider)")
        elif running.port is not None:
            _say(f"  {running.spec.name:<14} {running.url}  (swagger: {running.url}/swagger)")
    _say(f"Point an OpenAI client at: OPENAI_BASE_URL={gateway}/v1")
    _say(f"Anthropic clients at:      ANTHROPIC_BASE_URL={gateway}")
    if demo is not None:
        for line in demo.instructions(gateway):
            _say(line)
    _say("Ctrl-C stops everything; data stays in DATA_DIR for the next start.")


def main(argv: list[str] | None = None) -> int:
    """Command line of `python -m hyperstrate_kit.devstack`."""
    parser = argparse.ArgumentParser(prog="python -m hyperstrate_kit.devstack")
    parser.add_argument("command", choices=["up"])
    parser.add_argument(
        "--base-port", type=int, default=int(os.environ.get("HYPERSTRATE_BASE_PORT", "8090"))
    )
    parser.add_argument(
        "--exit-when-ready", action="store_true", help="stop once everything is ready"
    )
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo organisation")
    args = parser.parse_args(argv)
    data_dir = Path(os.environ.get("DATA_DIR", ".data")).absolute()
    return asyncio.run(
        run_stack(
            data_dir,
            args.base_port,
            args.exit_when_ready,
            args.ready_timeout,
            seed=not args.no_demo,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
