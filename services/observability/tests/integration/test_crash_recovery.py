"""The observability process killed (SIGKILL) in the middle of a backlog and started again:
no inference event is lost, none is logged or counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from observability_support import (
    completed,
    database_of,
    fresh_inference_stream,
    new_org,
    publish,
    settings_env,
)
from sqlalchemy import text

from hyperstrate_kit.embedded import free_port
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_observability.settings import ObservabilitySettings

BACKLOG = 20_000


class ServiceProcess:
    """`python -m hyperstrate_observability` with a given environment, output to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hyperstrate_observability"],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def service_env(infrastructure: Infrastructure) -> Iterator[dict[str, str]]:
    port = free_port()
    yield settings_env(
        infrastructure,
        PORT=str(port),
        HOST="127.0.0.1",
        LOG_FORMAT="json",
        LOG_BATCH_SIZE="250",
        LOG_ACK_WAIT_SECS="3",
    )


async def _logged(settings: ObservabilitySettings, org: str) -> tuple[int, int, int]:
    async with database_of(settings) as database, database.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM inference_logs WHERE org_id = :org),"
                    " (SELECT count(DISTINCT event_id) FROM inference_logs WHERE org_id = :org),"
                    " (SELECT coalesce(sum(requests), 0) FROM usage_daily WHERE org_id = :org)"
                ),
                {"org": org},
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def _ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_killed_midway_and_restarted_loses_nothing_and_doubles_nothing(
    service_env: dict[str, str], nats_client: NatsClient, tmp_path: Path
) -> None:
    settings = load_settings(ObservabilitySettings, environ=service_env)
    org = new_org()
    js = nats_client.jetstream()
    await fresh_inference_stream(js)
    await publish(js, [completed(org, cost_usd=0.001) for _ in range(BACKLOG)])

    service = ServiceProcess(service_env, tmp_path / "observability.log")
    service.start()
    try:
        started = time.perf_counter()

        async def some_logged() -> bool:
            return (await _logged(settings, org))[0] >= 2_000

        await wait_for(some_logged, timeout=60, interval=0.01, message="the first logs")
        service.kill()
        count_at_kill = (await _logged(settings, org))[0]
        assert count_at_kill < BACKLOG, "killed too late to prove anything"

        service.start()
        await wait_for(lambda: _ready(settings.listen_port), timeout=60, message="ready again")
        restarted = time.perf_counter()

        async def all_logged() -> bool:
            return (await _logged(settings, org))[0] >= BACKLOG

        await wait_for(all_logged, timeout=120, interval=0.05, message="the whole backlog")
        drained = time.perf_counter()

        # What was in flight at the kill is redelivered after ack_wait: it must not count twice.
        async def settled() -> bool:
            info = await js.consumer_info(
                "INFERENCE", f"{service_env['CONSUMER_PREFIX']}-inference"
            )
            return info.num_pending == 0 and info.num_ack_pending == 0

        await wait_for(settled, timeout=30, message="every message acked")
        assert await _logged(settings, org) == (BACKLOG, BACKLOG, BACKLOG)
        remainder = BACKLOG - count_at_kill
        print(
            f"\ncrash test: killed at {count_at_kill} logs ({restarted - started:.1f}s in); "
            f"after the restart the other {remainder} were logged in {drained - restarted:.2f}s "
            f"({remainder / (drained - restarted):.0f} events/s draining a backlog)"
        )
    finally:
        service.stop()
