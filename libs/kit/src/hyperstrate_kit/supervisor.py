"""Background tasks that outlive their dependencies.

A service's background work (the outbox relay, consumers, schedulers, probes, job runners)
runs under a `SupervisedTask`: when it fails because PostgreSQL or NATS went away, it starts
again with a capped backoff and resumes from its own cursor, with one warning per outage
rather than one per attempt. A failure of any other kind is a crash: the task stays down and
its readiness check turns red (naming it), so that an orchestrator replaces the process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats import errors as nats_errors
from nats.js import errors as jetstream_errors

from hyperstrate_kit.database import database_unavailable

__all__ = ["SupervisedTask", "dependency_unavailable"]

log = logging.getLogger(__name__)

#: NATS errors that mean the server (or the way to it) is away for now.
_NATS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionDrainingError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.NoServersError,
    nats_errors.NoRespondersError,
    nats_errors.StaleConnectionError,
    nats_errors.OutboundBufferLimitError,
    nats_errors.TimeoutError,
    jetstream_errors.ServiceUnavailableError,
)


def dependency_unavailable(exc: BaseException) -> bool:
    """True when `exc` says a dependency (PostgreSQL, NATS, a socket) is away for now, so
    trying again later may succeed; False for anything that looks like a bug."""
    return isinstance(exc, (*_NATS_UNAVAILABLE, OSError, TimeoutError)) or database_unavailable(exc)


class SupervisedTask:
    """Runs `work()` until it returns, again after each transient failure.

    `work` is a factory (a bound `run` method, say): each attempt is a fresh coroutine that
    reloads its position (a relay's cursor, a durable consumer's) from where it is kept.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[Any]],
        *,
        first_backoff: float = 0.2,
        max_backoff: float = 5.0,
        healthy_after: float = 5.0,
        unready_after: float = 60.0,
    ) -> None:
        self.name = name
        self.work = work
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        #: An attempt that lasts this long ends the outage (the next failure warns again).
        self.healthy_after = healthy_after
        #: Failing for longer than this (restarted over and over) turns readiness red.
        self.unready_after = unready_after
        self.crash: BaseException | None = None
        self.failing_since: float | None = None
        self.restarts = 0

    async def run(self) -> None:
        """Attempt the work until it returns or crashes; cancelled with the service."""
        backoff = self.first_backoff
        while True:
            recovered = self._on_recovery_after(self.healthy_after)
            try:
                await self.work()
                return
            except Exception as exc:
                if not dependency_unavailable(exc):
                    self.crash = exc
                    log.error("background task %s crashed", self.name, exc_info=exc)
                    return
                if self.failing_since is None:
                    backoff = self.first_backoff
                    self._outage_began(exc)
                else:
                    log.debug("background task %s failed again: %r", self.name, exc)
            finally:
                if recovered is not None:
                    recovered.cancel()
            self.restarts += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def ready(self) -> bool:
        """False once crashed, or while failing for longer than `unready_after`."""
        if self.crash is not None:
            return False
        return self.failing_since is None or (
            time.monotonic() - self.failing_since < self.unready_after
        )

    async def readiness(self) -> bool:
        """`ready()` as a readiness check."""
        return self.ready()

    def _outage_began(self, exc: BaseException) -> None:
        self.failing_since = time.monotonic()
        log.warning(
            "background task %s lost a dependency (%s: %s); retrying every %g s at most "
            "until it is back",
            self.name, type(exc).__name__, exc, self.max_backoff,
        )  # fmt: skip

    def _on_recovery_after(self, delay: float) -> asyncio.TimerHandle | None:
        if self.failing_since is None:
            return None
        return asyncio.get_running_loop().call_later(delay, self._recovered)

    def _recovered(self) -> None:
        if self.failing_since is not None:
            outage = time.monotonic() - self.failing_since - self.healthy_after
            log.info("background task %s recovered (down for %.1f s)", self.name, outage)
        self.failing_since = None
