"""The router's side of the inference hop: requests from the gateway's queue group, answers
(or streamed frames) to the reply inbox, liveness messages while a long answer runs,
cancellation when the client went away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from hyperstrate_contracts.router import (
    CANCEL_SUBJECT_PREFIX,
    INFER_QUEUE,
    INFER_SUBJECT,
    LIVENESS_HEADER,
    LIVENESS_INTERVAL_SECS,
    InferEnd,
    InferRequest,
)
from hyperstrate_kit.payloads import PayloadMissing, PayloadStore
from hyperstrate_router.application.inference.formats import (
    Api,
    api_error,
    stream_error_frame,
)
from hyperstrate_router.application.inference.pipeline import InferencePipeline

__all__ = ["InferenceWorker"]

log = logging.getLogger(__name__)
_request_decoder = msgspec.json.Decoder(InferRequest)
_end_encoder = msgspec.json.Encoder()
_END_HEADERS = {"Hs-End": "1"}
_LIVENESS_HEADERS = {LIVENESS_HEADER: "1"}
_UNDECODABLE = "the request body must be a JSON object (valid UTF-8, not nested too deeply)"


def _error_end(status: int, message: str, api: Api = "openai") -> InferEnd:
    return InferEnd(status=status, body=msgspec.Raw(api_error(api, status, message)))


def _api_named_in(data: bytes) -> Api:
    """The `api` of a request that did not decode, so that its error is one the client's
    SDK reads. The gateway writes InferRequest's fields in order, `api` before the body;
    the ids before it are JSON strings (any quote in them escaped), so the first `"api":"`
    is the request's own."""
    at = data.find(b'"api":"')
    return "anthropic" if at >= 0 and data.startswith(b'anthropic"', at + 7) else "openai"


class InferenceWorker:
    """Subscribes to the queue group; one task per request, one liveness timer for all."""

    def __init__(
        self,
        nc: NatsClient,
        pipeline: InferencePipeline,
        payloads: PayloadStore,
        liveness_interval: float = LIVENESS_INTERVAL_SECS,
    ) -> None:
        self.nc = nc
        self.pipeline = pipeline
        self.payloads = payloads
        self.liveness_interval = liveness_interval
        self.in_flight: dict[str, asyncio.Task[Any]] = {}
        self._relays: dict[str, _FrameRelay] = {}  # the answers in flight, by request id
        self._subscriptions: list[Subscription] = []
        self._liveness: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Join the router queue group and listen for cancellations (every replica)."""
        self._subscriptions.append(
            await self.nc.subscribe(INFER_SUBJECT, queue=INFER_QUEUE, cb=self._on_request)
        )
        self._subscriptions.append(
            await self.nc.subscribe(f"{CANCEL_SUBJECT_PREFIX}*", cb=self._on_cancel)
        )
        self._liveness = asyncio.create_task(self._keep_alive())

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking requests, let those in flight finish (up to `grace`), cancel the rest."""
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if self.in_flight:
            _, late = await asyncio.wait(list(self.in_flight.values()), timeout=grace)
            for task in late:
                task.cancel()
        if self._liveness is not None:  # after the drain: those answers still need it
            self._liveness.cancel()

    async def _keep_alive(self) -> None:
        """Every answer quiet for a liveness interval gets a liveness message, so the gateway
        can tell a long answer from a dead router. Ticks at half the interval: no answer is
        silent for more than 1.5 intervals, and one quicker than an interval never gets one."""
        while True:
            await asyncio.sleep(self.liveness_interval / 2)
            quiet_since = time.monotonic() - self.liveness_interval
            for relay in list(self._relays.values()):
                if relay.last_sent <= quiet_since:
                    await relay.keep_alive()

    async def _on_request(self, msg: Msg) -> None:
        try:
            request = _request_decoder.decode(msg.data)
        except Exception as exc:  # DecodeError, RecursionError: any failure gets its answer
            # Almost always the client's body (the gateway embeds it as sent): answer at once,
            # or the gateway waits out its timeout.
            log.warning("undecodable inference request: %s", exc)
            if msg.reply:
                end = _error_end(400, _UNDECODABLE, _api_named_in(msg.data))
                await self.nc.publish(msg.reply, _end_encoder.encode(end), headers=_END_HEADERS)
            return
        request_id = request.request_id
        frames = self._relays[request_id] = _FrameRelay(self.nc, self.payloads, msg.reply)
        task = asyncio.create_task(self._answer(request, frames))
        self.in_flight[request_id] = task
        task.add_done_callback(lambda _: self._forget(request_id))

    def _forget(self, request_id: str) -> None:
        self.in_flight.pop(request_id, None)
        self._relays.pop(request_id, None)

    async def _answer(self, request: InferRequest, frames: _FrameRelay) -> None:
        try:
            if request.body_ref:
                request = await self._with_parked_body(request)
            end = await self.pipeline.handle(request, frames.send)
            if not self.payloads.fits_in_message(len(end.body)):
                end = msgspec.structs.replace(
                    end,
                    body=msgspec.Raw(b"null"),
                    body_ref=await self.payloads.park(bytes(end.body)),
                )
        except PayloadMissing:
            end = _error_end(400, "the request body expired before a router took it", request.api)
        except Exception:
            log.exception("inference %s failed unexpectedly", request.request_id)
            end = _error_end(500, "internal error", request.api)
            if frames.started:  # the client reads a 200 stream: it must not just stop
                await frames.send(stream_error_frame(request.api, 500, "internal error"))
        except asyncio.CancelledError:
            frames.abandon()  # the client went away
            raise
        await frames.drain()
        await self.nc.publish(frames.reply, _end_encoder.encode(end), headers=_END_HEADERS)

    async def _with_parked_body(self, request: InferRequest) -> InferRequest:
        body = await self.payloads.take(request.body_ref)
        return msgspec.structs.replace(request, body=msgspec.Raw(body), body_ref="")

    async def _on_cancel(self, msg: Msg) -> None:
        task = self.in_flight.get(msg.subject.removeprefix(CANCEL_SUBJECT_PREFIX))
        if task is not None:
            task.cancel()


class _FrameRelay:
    """One reply's streamed frames, in order. The first leaves at once (time to first byte);
    later ones made in the same turn of the event loop (an upstream read often carries many
    events) leave together as one message when the pipeline next waits: fewer NATS messages,
    socket writes and client writes per stream, and no frame is held back for a timer."""

    __slots__ = ("_flushing", "_nc", "_payloads", "_pending", "_sequence", "last_sent", "reply")

    def __init__(self, nc: NatsClient, payloads: PayloadStore, reply: str) -> None:
        self._nc = nc
        self._payloads = payloads
        self.reply = reply
        self._pending: list[bytes] = []
        self._sequence = 0
        self._flushing: asyncio.Task[None] | None = None
        self.last_sent = time.monotonic()  # of the last message to the inbox (or the start)

    async def send(self, frame: bytes) -> None:
        """Queue a frame for the client (the pipeline's `SendFrame`)."""
        if self._sequence == 0:
            await self._publish(frame)
            return
        self._pending.append(frame)
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    @property
    def started(self) -> bool:
        """Whether a frame has been sent (the client's stream has begun)."""
        return self._sequence > 0 or bool(self._pending)

    async def keep_alive(self) -> None:
        """Tell the gateway this answer is still being worked on (outside the frame sequence)."""
        self.last_sent = time.monotonic()
        try:
            await self._nc.publish(self.reply, b"", headers=_LIVENESS_HEADERS)
        except Exception as exc:  # closed or draining: the answer itself will fail or end
            log.debug("liveness message not sent: %s", exc)

    def abandon(self) -> None:
        """Nobody is listening any more: drop what is queued."""
        self._pending.clear()
        if self._flushing is not None:
            self._flushing.cancel()

    async def drain(self) -> None:
        """Wait until every queued frame is published (before the end frame goes)."""
        if self._flushing is not None:
            await self._flushing  # it publishes until nothing is queued

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = b"".join(self._pending)
                self._pending.clear()
                await self._publish(batch)
        finally:
            self._flushing = None

    async def _publish(self, frames: bytes) -> None:
        # Frames are written to the client back to back, so a huge one may travel in parts.
        self.last_sent = time.monotonic()
        for piece in self._payloads.split(frames):
            self._sequence += 1
            await self._nc.publish(self.reply, piece, headers={"Hs-Seq": str(self._sequence)})
