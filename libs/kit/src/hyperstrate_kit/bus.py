"""NATS JetStream plumbing: connection, provisioning, durable consumers, replay, request/reply.

- Streams and durable consumers are provisioned explicitly at start-up from their specs in
  `hyperstrate_contracts`; a changed spec updates the existing stream or consumer.
- `ConsumerRunner` pulls from a durable consumer with explicit acks, naks with backoff on
  failure, moves a message to its dead-letter subject after max deliveries, keeps long work
  alive with `in_progress`, and drains gracefully.
- `idempotent()` wraps a handler so its effect and an inbox row commit in one transaction.
- `StreamFollower` replays a stream in order into an in-memory projection, then follows it
  live, with a `caught_up` signal for readiness.
- `request()` / `serve()` carry msgspec messages over NATS request/reply with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry import context as otel_context
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import (
    ConsumerSpec,
    Event,
    EventRegistry,
    Retention,
    StreamSpec,
    dead_letter_subject,
)
from hyperstrate_kit.actors import acting_as, system_actor
from hyperstrate_kit.database import Database, until_database_answers
from hyperstrate_kit.metrics import CONSUMER_HANDLED, CONSUMER_LAG
from hyperstrate_kit.settings import nats_servers
from hyperstrate_kit.telemetry import extract_context, inject_headers, tracer

__all__ = [
    "ConsumerRunner",
    "PoisonMessage",
    "RemoteError",
    "ServiceUnavailable",
    "StreamFollower",
    "coalesced_writes",
    "connect_nats",
    "dead_letter",
    "idempotent",
    "provision_consumer",
    "provision_streams",
    "request",
    "serve",
]

log = logging.getLogger(__name__)
# JetStream: "stream name already in use with a different configuration".
_STREAM_NAME_IN_USE = 10058
T = TypeVar("T")
R = TypeVar("R", bound=msgspec.Struct)


# Past this many bytes waiting in the socket's buffer, writes go back to nats-py's flusher,
# which awaits the socket draining (back-pressure).
_EAGER_WRITE_LIMIT = 256 * 1024


class _EagerFlushClient(NatsClient):
    """nats-py hands each publish to a flusher task that writes it one loop turn later; on
    the inference hop that turn is latency in both processes. While connected and the socket
    keeps up, this client writes at once; otherwise, and inside `coalesced_writes`, it defers
    to the flusher as usual."""

    coalescing = 0

    async def _flush_pending(self, force_flush: bool = False) -> Any:
        writer = getattr(self._transport, "_io_writer", None)  # plain TCP transports only
        if (
            writer is not None
            and not self.coalescing
            and self.is_connected
            and self._pending_data_size > 0
            and self._flush_queue is not None
            and self._flush_queue.empty()
            and writer.transport.get_write_buffer_size() < _EAGER_WRITE_LIMIT
        ):
            writer.writelines(self._pending)
            self._pending = []
            self._pending_data_size = 0
            return None
        return await super()._flush_pending(force_flush)


@contextlib.contextmanager
def coalesced_writes(nc: NatsClient) -> Iterator[None]:
    """Publishes made inside go out together in one write (for batches)."""
    if not isinstance(nc, _EagerFlushClient):
        yield
        return
    nc.coalescing += 1
    try:
        yield
    finally:
        nc.coalescing -= 1


FIRST_CONNECT_TIMEOUT_SECS = 15.0


async def connect_nats(url: str, name: str) -> NatsClient:
    """Connect with unlimited reconnects, so a NATS restart is ridden out, not fatal.

    `url` is one server or a cluster's servers comma-separated (`NATS_URL`): the client
    starts on one of them at random (spreading the services over the nodes) and, when its
    node dies, reconnects to another (the cluster also tells it of the nodes not listed).
    """
    nc = _EagerFlushClient()
    connecting = nc.connect(
        nats_servers(url),
        name=f"hyperstrate-{name}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,  # type: ignore[arg-type]  # seconds; the stub says int
        connect_timeout=5,
    )
    try:
        # Unlimited reconnects make nats-py's first connect loop forever when no server
        # answers (a service then hangs at start-up, deaf to SIGTERM): bound the first one.
        await asyncio.wait_for(connecting, FIRST_CONNECT_TIMEOUT_SECS)
    except BaseException:
        with contextlib.suppress(Exception):
            await nc.close()
        raise
    return nc


def _stream_config(spec: StreamSpec, replicas: int = 1) -> api.StreamConfig:
    retention = (
        api.RetentionPolicy.WORK_QUEUE
        if spec.retention is Retention.WORK_QUEUE
        else api.RetentionPolicy.LIMITS
    )
    return api.StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=retention,
        storage=api.StorageType.FILE,
        max_age=spec.max_age_seconds,
        duplicate_window=spec.duplicate_window_seconds,
        num_replicas=replicas,
    )


async def provision_streams(
    js: JetStreamContext, specs: Sequence[StreamSpec], *, replicas: int = 1
) -> None:
    """Create each stream, or update it to its spec if it exists."""
    for spec in specs:
        config = _stream_config(spec, replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
                continue
            except BadRequestError as exc:
                # Another service created it meanwhile (they all start together): update it.
                if exc.err_code != _STREAM_NAME_IN_USE:
                    raise
        await js.update_stream(config)


def _server_max_deliver(spec: ConsumerSpec) -> int:
    # One delivery more than ours: if the last attempt dies with the process (no nak),
    # the server still redelivers once, so the message reaches the dead-letter subject.
    return spec.max_deliver + 1


async def provision_consumer(js: JetStreamContext, spec: ConsumerSpec) -> api.ConsumerInfo:
    """Create the durable pull consumer, or apply a changed spec to the existing one."""
    config = api.ConsumerConfig(
        name=spec.durable,
        durable_name=spec.durable,
        description=spec.description,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=_server_max_deliver(spec),
        max_ack_pending=spec.max_ack_pending,
        filter_subjects=list(spec.filter_subjects) or None,
    )
    return await js.add_consumer(spec.stream, config)


class PoisonMessage(Exception):
    """A message that can never be handled (undecodable): dead-lettered at once."""


class ConsumerRunner(Generic[T]):
    """Runs a handler over a durable pull consumer until stopped.

    The handler gets the decoded message and the raw `Msg`. It returns normally to ack,
    raises to nak with backoff (or dead-letter after `max_deliver` attempts), or raises
    `PoisonMessage` to dead-letter at once.
    """

    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        handler: Callable[[T, Msg], Awaitable[None]],
        decode: Callable[[Msg], T],
        *,
        batch_size: int = 32,
        fetch_timeout: float = 1.0,
    ) -> None:
        self.js = js
        self.spec = spec
        self.handler = handler
        self.decode = decode
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self._stopping = asyncio.Event()
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._actor = system_actor(f"consumer:{spec.durable}")

    async def run(self) -> None:
        """Fetch and handle batches until `stop()`; an in-flight batch finishes first."""
        self._subscription = await self.js.pull_subscribe_bind(
            durable=self.spec.durable, stream=self.spec.stream
        )
        stop_wait = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                fetch = asyncio.ensure_future(
                    self._subscription.fetch(self.batch_size, timeout=self.fetch_timeout)
                )
                await asyncio.wait({fetch, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():  # stopping while idle: nothing in hand to finish
                    fetch.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await fetch
                    break
                try:
                    messages = fetch.result()
                except (NatsTimeoutError, TimeoutError):
                    continue
                except Exception as exc:  # connection trouble: back off, keep going
                    log.warning("consumer %s fetch failed: %s", self.spec.durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                for msg in messages:
                    await self._handle(msg)
        finally:
            stop_wait.cancel()
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()

    async def stop(self) -> None:
        """Ask the runner to drain: stop fetching, finish what is in hand."""
        self._stopping.set()

    async def _handle(self, msg: Msg) -> None:
        consumer = self.spec.durable
        attempt = msg.metadata.num_delivered
        keepalive = asyncio.ensure_future(self._keep_in_progress(msg))
        parent = extract_context(msg.headers)
        token = otel_context.attach(parent)
        try:
            with (
                acting_as(self._actor),  # what a handler appends, the consumer did
                tracer().start_as_current_span(f"consume {msg.subject}"),
            ):
                try:
                    decoded = self.decode(msg)
                except Exception as exc:
                    raise PoisonMessage(f"undecodable message: {exc}") from exc
                await self._handle_until_database_answers(decoded, msg)
        except PoisonMessage as exc:
            await self._dead_letter(msg, str(exc))
            CONSUMER_HANDLED.labels(consumer, "dead_lettered").inc()
        except Exception as exc:
            if attempt >= self.spec.max_deliver:
                await self._dead_letter(msg, f"{type(exc).__name__}: {exc}")
                CONSUMER_HANDLED.labels(consumer, "dead_lettered").inc()
            else:
                log.warning(
                    "consumer %s failed on %s (attempt %d): %s", consumer, msg.subject, attempt, exc
                )
                await msg.nak(delay=self._backoff(attempt))
                CONSUMER_HANDLED.labels(consumer, "retried").inc()
        else:
            await msg.ack()
            CONSUMER_HANDLED.labels(consumer, "acked").inc()
            CONSUMER_LAG.labels(consumer).observe(
                max(0.0, time.time() - msg.metadata.timestamp.timestamp())
            )
        finally:
            otel_context.detach(token)
            keepalive.cancel()

    async def _handle_until_database_answers(self, decoded: T, msg: Msg) -> None:
        # While the database is away the message stays in hand (kept in progress) and is
        # tried again, rather than spending its deliveries towards the dead letter: an
        # outage longer than the backoff would otherwise dead-letter every message.
        await until_database_answers(
            lambda: self.handler(decoded, msg),
            f"consumer {self.spec.durable}",
            stopping=self._stopping.is_set,
        )

    def _backoff(self, attempt: int) -> float:
        delays = self.spec.backoff_seconds or (1.0,)
        return delays[min(attempt - 1, len(delays) - 1)]

    async def _keep_in_progress(self, msg: Msg) -> None:
        # Long work must not outlive ack_wait, or the server would redeliver it meanwhile.
        interval = max(self.spec.ack_wait_seconds / 3, 0.1)
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        await dead_letter(self.js, self.spec, msg, reason)


async def dead_letter(js: JetStreamContext, spec: ConsumerSpec, msg: Msg, reason: str) -> None:
    """Move a message a consumer gives up on to its dead-letter subject, then terminate it.

    The headers say where it came from, after how many deliveries, and why, so one tool
    reads every dead letter.
    """
    headers = dict(msg.headers or {})
    headers.pop("Nats-Msg-Id", None)
    headers.update(
        {
            "Hs-Original-Subject": msg.subject,
            "Hs-Consumer": spec.durable,
            "Hs-Deliveries": str(msg.metadata.num_delivered),
            "Hs-Error": reason[:500],
        }
    )
    await js.publish(dead_letter_subject(spec), msg.data, headers=headers)
    await msg.term()
    log.error(
        "consumer %s dead-lettered %s after %d deliveries: %s",
        spec.durable, msg.subject, msg.metadata.num_delivered, reason,
    )  # fmt: skip


def event_decoder(registry: EventRegistry) -> Callable[[Msg], Event]:
    """Decode a JetStream message into the event its subject names."""
    return lambda msg: registry.decode(msg.subject, msg.data)


def idempotent(
    database: Database,
    consumer: str,
    effect: Callable[[AsyncSession, Event], Awaitable[None]],
) -> Callable[[Event, Msg], Awaitable[None]]:
    """A handler whose effect commits with an inbox row: a redelivered event is skipped."""

    async def handle(event: Event, _msg: Msg) -> None:
        async with database.transaction() as session:
            recorded = await session.execute(
                text(
                    "INSERT INTO inbox (consumer, event_id) VALUES (:consumer, :event_id) "
                    "ON CONFLICT DO NOTHING RETURNING event_id"
                ),
                {"consumer": consumer, "event_id": event.event_id},
            )
            if recorded.first() is None:
                return  # seen before: ack without re-applying
            await effect(session, event)

    return handle


class StreamFollower:
    """Replays a stream's events in order into `apply`, then follows it live.

    `caught_up` is set once every event stored when the follower started has been applied;
    services report not-ready until then. With `start_time`, the replay starts with the
    first message stored at or after it instead of the stream's first.
    """

    def __init__(
        self,
        js: JetStreamContext,
        registry: EventRegistry,
        subject: str,
        apply: Callable[[Event], Awaitable[None] | None],
        start_time: datetime | None = None,
    ) -> None:
        self.js = js
        self.registry = registry
        self.subject = subject
        self.apply = apply
        self.start_time = start_time
        self.caught_up = asyncio.Event()
        self.applied = 0
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        """Subscribe with an ordered consumer from the stream's first message (or the first
        at `start_time`)."""
        config = None
        if self.start_time is not None:
            config = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=self.start_time
            )
        self._subscription = await self.js.subscribe(
            self.subject,
            cb=self._on_message,
            config=config,
            ordered_consumer=True,
            deliver_policy=None if config else api.DeliverPolicy.ALL,
            idle_heartbeat=5.0,
        )
        info = await self._subscription.consumer_info()
        # Nothing pending and nothing delivered to us yet: nothing to replay. (The stream
        # sequence would not do: from a start time it already points past the skipped events.)
        if info.num_pending == 0 and not (info.delivered and info.delivered.consumer_seq):
            self.caught_up.set()

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = self.registry.decode(msg.subject, msg.data)
        except Exception as exc:  # an event type this follower does not know: skip it
            log.debug("follower on %s skipped %s: %s", self.subject, msg.subject, exc)
        else:
            result = self.apply(event)
            if inspect.isawaitable(result):
                await result
            self.applied += 1
        if msg.metadata.num_pending == 0:
            self.caught_up.set()

    async def stop(self) -> None:
        """Stop following."""
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None


class ServiceUnavailable(Exception):
    """No service answered the request in time (no responders, or a timeout)."""


class RemoteError(Exception):
    """The service answered with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _ErrorReply(msgspec.Struct):
    code: str
    message: str


async def request(
    nc: NatsClient,
    subject: str,
    payload: msgspec.Struct,
    response_type: type[R],
    *,
    timeout: float = 2.0,
) -> R:
    """Ask `subject` and decode the reply as `response_type`.

    Raises `ServiceUnavailable` on timeout or no responders, `RemoteError` on an error reply.
    """
    try:
        reply = await nc.request(
            subject, msgspec.json.encode(payload), timeout=timeout, headers=inject_headers()
        )
    except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
        raise ServiceUnavailable(f"{subject}: {type(exc).__name__}") from exc
    if reply.headers and reply.headers.get("Hs-Error"):
        error = msgspec.json.decode(reply.data, type=_ErrorReply)
        raise RemoteError(error.code, error.message)
    return msgspec.json.decode(reply.data, type=response_type)


async def serve(
    nc: NatsClient,
    subject: str,
    request_type: type[R],
    handler: Callable[[R], Awaitable[msgspec.Struct]],
    *,
    queue: str = "",
) -> Subscription:
    """Answer requests on `subject` (in queue group `queue`) with `handler`'s reply.

    A bad request or a `RemoteError` raised by the handler is answered as an error reply;
    any other exception is logged and answered as `internal` without its details.
    """

    responder = system_actor(f"responder:{subject}")

    async def on_request(msg: Msg) -> None:
        token = otel_context.attach(extract_context(msg.headers))
        try:
            with acting_as(responder):  # what a handler appends, the service did
                answer = await handler(msgspec.json.decode(msg.data, type=request_type))
                if msg.reply:  # a plain publish (a notification) wants no answer
                    await msg.respond(msgspec.json.encode(answer))
        except msgspec.ValidationError as exc:
            await _respond_error(msg, "bad_request", str(exc))
        except RemoteError as exc:
            await _respond_error(msg, exc.code, exc.message)
        except Exception:
            log.exception("request handler for %s failed", subject)
            await _respond_error(msg, "internal", "internal error")
        finally:
            otel_context.detach(token)

    return await nc.subscribe(subject, queue=queue, cb=on_request)


async def _respond_error(msg: Msg, code: str, message: str) -> None:
    if msg.reply:
        await msg._client.publish(
            msg.reply,
            msgspec.json.encode(_ErrorReply(code=code, message=message)),
            headers={"Hs-Error": code},
        )


__all__ += ["event_decoder"]
