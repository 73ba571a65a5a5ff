"""Delivers pending webhook deliveries: claim due rows, POST them signed, record the outcome.

Deliveries are rows, written in the same transaction as the inference log that caused them,
so nothing is lost when a receiver is down: a failed attempt is retried after the next
backoff delay and dead-lettered after the last attempt. Rows are claimed with
`FOR UPDATE SKIP LOCKED` and a lease, so replicas share the work and a replica that dies
mid-send only delays its deliveries by the lease. Receivers see each event at least once
and can drop a repeat by its `X-Hyperstrate-Event-Id`.

Every send re-checks the URL (SSRF guard, with DNS resolution) and connects to the address
that was checked, so a name that re-resolves to an internal address cannot slip through;
redirects are not followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import text

from hyperstrate_kit.database import Database
from hyperstrate_kit.security import OutboundUrlGuard, SecretBox, UnsafeUrlError
from hyperstrate_observability.domain.webhooks import (
    SIGNATURE_HEADER,
    backoff_delay,
    signature_header,
)
from hyperstrate_observability.infrastructure.metrics import WEBHOOK_DELIVERIES

__all__ = ["ClaimedDelivery", "WebhookDispatcher"]

log = logging.getLogger(__name__)

_CLAIM = text(
    "WITH due AS ("
    " SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND w.enabled"
    " ORDER BY d.next_attempt_at, d.id LIMIT :limit FOR UPDATE OF d SKIP LOCKED) "
    "UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
    " next_attempt_at = now() + make_interval(secs => :lease) "
    "FROM due, webhooks w, webhook_secrets s "
    "WHERE d.id = due.id AND w.id = d.webhook_id AND s.webhook_id = d.webhook_id "
    "RETURNING d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts, w.url,"
    " s.secret_ciphertext"
)
_DELIVERED = text(
    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(),"
    " last_status_code = :code, last_error = '' WHERE id = :id"
)
_RETRY = text(
    "UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => :delay),"
    " last_status_code = :code, last_error = :error WHERE id = :id AND status = 'pending'"
)
_DEAD = text(
    "UPDATE webhook_deliveries SET status = 'dead', last_status_code = :code, last_error = :error"
    " WHERE id = :id AND status = 'pending'"
)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    webhook_id: str
    event_id: str
    event_type: str
    payload: str
    attempts: int  # including this one
    url: str
    secret_ciphertext: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivery: ClaimedDelivery
    ok: bool
    status_code: int | None = None
    error: str = ""


def pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """`url` rewritten to connect to `address`, with the Host header and TLS name it had."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
    extensions = {"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), headers, extensions


class WebhookDispatcher:
    """Runs until cancelled; `wake()` it when deliveries were just queued."""

    def __init__(
        self,
        database: Database,
        secrets: SecretBox,
        guard: OutboundUrlGuard,
        client: httpx.AsyncClient,
        *,
        max_attempts: int,
        backoff_seconds: Sequence[float],
        timeout: float,
        concurrency: int = 16,
        poll_seconds: float = 1.0,
        on_dead: Callable[[ClaimedDelivery, str], Awaitable[None]] | None = None,
    ) -> None:
        self.database = database
        self.secrets = secrets
        self.guard = guard
        self.client = client
        self.max_attempts = max_attempts
        self.backoff_seconds = tuple(backoff_seconds)
        self.timeout = timeout
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.on_dead = on_dead
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        failing = False  # one warning per outage, not one per poll
        while True:
            self._wake.clear()
            try:
                sent = await self.dispatch_due()
            except Exception as exc:  # database away: try again at the next poll
                if not failing:
                    log.warning("webhook dispatch failed: %s", exc)
                failing = True
                sent = 0
            else:
                if failing:
                    log.info("webhook dispatch works again")
                failing = False
            if sent >= self.concurrency:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def dispatch_due(self) -> int:
        """Claim and send one round of due deliveries; returns how many were attempted."""
        lease = self.timeout * 2 + 5
        async with self.database.transaction() as session:
            rows = (
                await session.execute(_CLAIM, {"limit": self.concurrency, "lease": lease})
            ).all()
        claimed = [ClaimedDelivery(*row) for row in rows]
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(delivery) for delivery in claimed))
        await self._record(outcomes)
        return len(claimed)

    async def _send(self, delivery: ClaimedDelivery) -> _Outcome:
        try:
            secret = self.secrets.decrypt(
                delivery.secret_ciphertext, associated_data=delivery.webhook_id.encode("utf-8")
            )
            addresses = await self.guard.resolve_checked(delivery.url)
            url, host_header, extensions = pinned_request(delivery.url, addresses[0])
            body = delivery.payload.encode("utf-8")
            headers = {
                **host_header,
                "Content-Type": "application/json",
                "User-Agent": "hyperstrate-webhooks/1",
                "X-Hyperstrate-Event": delivery.event_type,
                "X-Hyperstrate-Event-Id": delivery.event_id,
                "X-Hyperstrate-Delivery": str(delivery.id),
                "X-Hyperstrate-Attempt": str(delivery.attempts),
                SIGNATURE_HEADER: signature_header(secret, int(time.time()), body),
            }
            response = await self.client.post(
                url, content=body, headers=headers, extensions=extensions, timeout=self.timeout
            )
        except UnsafeUrlError as exc:
            return _Outcome(delivery, ok=False, error=f"url refused: {exc.reason}")
        except httpx.HTTPError as exc:
            return _Outcome(delivery, ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        except Exception as exc:
            log.exception("webhook delivery %d failed unexpectedly", delivery.id)
            return _Outcome(delivery, ok=False, error=f"{type(exc).__name__}"[:500])
        if 200 <= response.status_code < 300:
            return _Outcome(delivery, ok=True, status_code=response.status_code)
        return _Outcome(
            delivery,
            ok=False,
            status_code=response.status_code,
            error=f"HTTP {response.status_code}",
        )

    async def _record(self, outcomes: Sequence[_Outcome]) -> None:
        dead: list[_Outcome] = []
        async with self.database.transaction() as session:
            for outcome in outcomes:
                delivery = outcome.delivery
                params = {"id": delivery.id, "code": outcome.status_code}
                if outcome.ok:
                    await session.execute(_DELIVERED, params)
                    WEBHOOK_DELIVERIES.labels("delivered").inc()
                elif delivery.attempts >= self.max_attempts:
                    await session.execute(_DEAD, {**params, "error": outcome.error})
                    WEBHOOK_DELIVERIES.labels("dead").inc()
                    dead.append(outcome)
                else:
                    delay = backoff_delay(delivery.attempts, self.backoff_seconds)
                    await session.execute(
                        _RETRY, {**params, "error": outcome.error, "delay": delay}
                    )
                    WEBHOOK_DELIVERIES.labels("retried").inc()
        for outcome in dead:
            log.error(
                "webhook %s: delivery %d of %s dead after %d attempts: %s",
                outcome.delivery.webhook_id, outcome.delivery.id, outcome.delivery.event_id,
                outcome.delivery.attempts, outcome.error,
            )  # fmt: skip
            if self.on_dead is not None:
                with contextlib.suppress(Exception):
                    await self.on_dead(outcome.delivery, outcome.error)
