"""The supervisor of background tasks: transient failures restart, crashes turn /readyz red."""

from __future__ import annotations

import asyncio
import logging

import pytest
from litestar.testing import TestClient

from hyperstrate_kit.http import create_http_app
from hyperstrate_kit.supervisor import SupervisedTask, dependency_unavailable
from hyperstrate_kit.testing import wait_for


def _readyz(task: SupervisedTask) -> tuple[int, dict[str, bool]]:
    app = create_http_app(title="t", route_handlers=[], frontend_url="http://x",
                          readiness_checks=[(f"task:{task.name}", task.readiness)])  # fmt: skip
    with TestClient(app) as client:
        response = client.get("/readyz")
    return response.status_code, response.json()["checks"]


async def test_a_task_whose_dependency_is_away_is_restarted_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts = 0
    done = asyncio.Event()

    async def work() -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 4:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        done.set()

    task = SupervisedTask("relay", work, first_backoff=0.01, max_backoff=0.02)
    with caplog.at_level(logging.WARNING, logger="hyperstrate_kit.supervisor"):
        await asyncio.wait_for(task.run(), 5)
    assert done.is_set() and attempts == 5 and task.crash is None
    assert [r.getMessage() for r in caplog.records] == [
        "background task relay lost a dependency (ConnectionRefusedError: [Errno 111] Connect "
        "call failed ('127.0.0.1', 5432)); retrying every 0.02 s at most until it is back"
    ]
    assert _readyz(task) == (200, {"task:relay": True})


async def test_a_crash_turns_readyz_red_naming_the_task(caplog: pytest.LogCaptureFixture) -> None:
    async def work() -> None:
        raise KeyError("a bug")

    task = SupervisedTask("outbox-relay", work)
    with caplog.at_level(logging.ERROR, logger="hyperstrate_kit.supervisor"):
        await asyncio.wait_for(task.run(), 5)  # not restarted: it returns
    assert isinstance(task.crash, KeyError)
    assert "background task outbox-relay crashed" in caplog.text
    assert _readyz(task) == (503, {"task:outbox-relay": False})


async def test_a_task_restarted_for_too_long_is_not_ready_and_ready_again_once_it_holds() -> None:
    failing = True

    async def work() -> None:
        if failing:
            raise TimeoutError("publish timed out")
        await asyncio.Event().wait()  # runs until cancelled

    task = SupervisedTask("probe", work, first_backoff=0.01, max_backoff=0.01,
                          healthy_after=0.2, unready_after=0.1)  # fmt: skip
    running = asyncio.create_task(task.run())
    try:
        await wait_for(lambda: not task.ready(), timeout=5, message="not ready after 0.1 s")
        assert task.crash is None and not running.done()  # still retrying
        failing = False
        await wait_for(task.ready, timeout=5, message="ready once an attempt held 0.2 s")
    finally:
        running.cancel()


def test_what_counts_as_a_dependency_away() -> None:
    assert dependency_unavailable(ConnectionRefusedError())
    assert dependency_unavailable(TimeoutError())
    assert not dependency_unavailable(KeyError("x"))
    assert not dependency_unavailable(ValueError("bad"))
