"""`just up`: the whole stack on one machine, on embedded defaults.

Starts NATS (JetStream) and PostgreSQL from their wheels unless `NATS_URL` / `DATABASE_URL`
point elsewhere, then every service as its own process with name-prefixed logs, waits for
each `/readyz`, and prints where to point an OpenAI client. Ctrl-C stops everything. All
state lives under `DATA_DIR` (default `.data`), so it survives a restart and a second stack
can run from another directory with `HYPERSTRATE_BASE_PORT` set.
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

import httpx

from hyperstrate_kit.embedded import EmbeddedNats, EmbeddedPostgres

__all__ = ["SERVICES", "main"]

#: (name, module, port offset from the base port); the gateway is the base port (8090).
SERVICES: tuple[tuple[str, str, int], ...] = (
    ("auth", "hyperstrate_auth", 1),
    ("catalog", "hyperstrate_catalog", 2),
    ("router", "hyperstrate_router", 3),
    ("prompts", "hyperstrate_prompts", 4),
    ("observability", "hyperstrate_observability", 5),
    ("gateway", "hyperstrate_gateway", 0),
)
_COLORS = ("\x1b[35m", "\x1b[36m", "\x1b[33m", "\x1b[34m", "\x1b[32m", "\x1b[1;37m")
_RESET = "\x1b[0m"


@dataclass
class RunningService:
    name: str
    port: int
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


async def _start_service(
    name: str, module: str, port: int, env: dict[str, str], color: str
) -> RunningService:
    child_env = {"LOG_FORMAT": "console", **env}  # readable lines unless asked otherwise
    child_env.update(PORT=str(port), HOST="127.0.0.1", PYTHONUNBUFFERED="1")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module,
        env=child_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    piping = asyncio.create_task(_pipe_output(name, color, process.stdout, 13))
    return RunningService(name, port, process, piping)


async def _wait_ready(services: list[RunningService], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(services)
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            for service in list(pending):
                if service.process.returncode is not None:
                    raise RuntimeError(
                        f"{service.name} exited with code {service.process.returncode}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{service.url}/readyz")).status_code == 200:
                        pending.remove(service)
            if pending and time.monotonic() > deadline:
                raise RuntimeError("not ready in time: " + ", ".join(s.name for s in pending))
            await asyncio.sleep(0.1)


async def _stop_services(services: list[RunningService]) -> None:
    for service in services:
        if service.process.returncode is None:
            service.process.send_signal(signal.SIGTERM)
    for service in services:
        try:
            await asyncio.wait_for(service.process.wait(), 35)
        except TimeoutError:
            service.process.kill()


async def run_stack(
    data_dir: Path, base_port: int, exit_when_ready: bool, ready_timeout: float
) -> int:
    """Start everything, report, wait for Ctrl-C (or return once ready), stop everything."""
    started = time.monotonic()
    env = dict(os.environ, DATA_DIR=str(data_dir))
    embedded: list[EmbeddedNats | EmbeddedPostgres] = []
    services: list[RunningService] = []
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
        for name, _, offset in SERVICES:  # the gateway finds the admin APIs here
            env[f"{name.upper()}_SERVICE_URL"] = f"http://127.0.0.1:{base_port + offset}"
        for (name, module, offset), color in zip(SERVICES, _COLORS, strict=True):
            services.append(await _start_service(name, module, base_port + offset, env, color))
        ready = asyncio.create_task(_wait_ready(services, ready_timeout))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            return 130
        ready.result()
        _report(services, base_port, time.monotonic() - started)
        if not exit_when_ready:
            exits = [asyncio.create_task(s.process.wait()) for s in services]
            done, _ = await asyncio.wait({stopped, *exits}, return_when=asyncio.FIRST_COMPLETED)
            for task in exits:
                task.cancel()
            if stopped not in done:
                _say("a service exited; stopping the stack")
                return 1
        return 0
    except RuntimeError as exc:
        _say(f"failed: {exc}")
        return 1
    finally:
        _say("stopping")
        await _stop_services(services)
        for server in reversed(embedded):
            await asyncio.to_thread(server.stop)
        _say("stopped")


def _report(services: list[RunningService], base_port: int, elapsed: float) -> None:
    gateway = f"http://127.0.0.1:{base_port}"
    _say(f"ready in {elapsed:.1f}s")
    for service in services:
        _say(f"  {service.name:<13} {service.url}  (swagger: {service.url}/swagger)")
    _say(f"Point an OpenAI client at: OPENAI_BASE_URL={gateway}/v1")
    _say(f"Anthropic clients at:      ANTHROPIC_BASE_URL={gateway}")
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
    args = parser.parse_args(argv)
    data_dir = Path(os.environ.get("DATA_DIR", ".data")).absolute()
    return asyncio.run(
        run_stack(data_dir, args.base_port, args.exit_when_ready, args.ready_timeout)
    )


if __name__ == "__main__":
    sys.exit(main())
