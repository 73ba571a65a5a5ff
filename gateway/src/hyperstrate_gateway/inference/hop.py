"""The one NATS hop to the router: a request on the queue group, answers on a shared inbox.

One wildcard subscription serves every request in flight (no SUB/UNSUB per request); each
request gets a token, and its answer messages (frames, then the end) land in its own queue.

A router that is gone is noticed within `liveness_timeout`: a router at work on an answer
says so at least every LIVENESS_INTERVAL_SECS (a liveness message when it has nothing else to
send), so a longer silence means it died, or its messages were lost (a NATS restart drops
what reaches a server before the gateway's inbox subscription is back). NATS answers at once
when no router is subscribed at all ("no responders").
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from hyperstrate_contracts.router import (
    CANCEL_SUBJECT_PREFIX,
    INFER_SUBJECT,
    LIVENESS_HEADER,
    InferEnd,
    InferRequest,
)
from hyperstrate_providers.client_errors import ClientApi, api_error

__all__ = ["Frame", "ReplyMux", "RouterSilent"]

_encoder = msgspec.json.Encoder()
_end_decoder = msgspec.json.Decoder(InferEnd)


class RouterSilent(Exception):
    """The router said nothing for the liveness timeout: it is gone (or its words were lost)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One answer message: an SSE frame (`end` None) or the end of the answer."""

    data: bytes
    end: InferEnd | None = None


#: A check of silence that runs this much later than due finds the gateway itself was late.
_STALL_SECS = 0.25


class _Answers:
    """One request's answer messages, in order. A plain deque and a waiter future: cheaper
    per frame than an asyncio.Queue read under `wait_for` (which makes a task each time).
    The silence timer is armed only while the reader waits, and a message that arrives
    meanwhile only moves `heard_at` (no timer is re-armed per message)."""

    __slots__ = ("api", "frames", "heard_at", "timer", "waiter")

    def __init__(self, api: ClientApi) -> None:
        self.api = api
        self.frames: deque[Frame] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.heard_at = time.monotonic()

    def push(self, frame: Frame) -> None:
        self.frames.append(frame)
        self.heard()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def heard(self) -> None:
        """The router spoke (a frame, or a liveness message)."""
        self.heard_at = time.monotonic()

    async def next(self, silence: float) -> Frame:
        while not self.frames:
            loop = asyncio.get_running_loop()
            self.waiter = waiter = loop.create_future()
            self.timer = loop.call_later(
                silence, self._check, waiter, silence, time.monotonic() + silence
            )
            try:
                await waiter
            finally:
                if self.timer is not None:
                    self.timer.cancel()
                self.timer = self.waiter = None
        return self.frames.popleft()

    def _check(self, waiter: asyncio.Future[None], silence: float, due: float) -> None:
        if waiter.done():
            return
        now = time.monotonic()
        quiet = now - self.heard_at
        if quiet < silence:  # heard from meanwhile: wait out the rest of a silence
            self._check_again(waiter, silence, silence - quiet)
        elif now - due > _STALL_SECS:
            # This gateway was held up itself (a busy loop, a starved process): the router's
            # words may be read but not yet handed over, so give them a moment first.
            self._check_again(waiter, silence, _STALL_SECS)
        else:
            waiter.set_exception(RouterSilent(f"the router stopped answering ({quiet:.0f} s)"))

    def _check_again(self, waiter: asyncio.Future[None], silence: float, delay: float) -> None:
        self.timer = asyncio.get_running_loop().call_later(
            delay, self._check, waiter, silence, time.monotonic() + delay
        )


class ReplyMux:
    """Requests to the router and their answers, over one inbox subscription."""

    def __init__(self, nc: NatsClient, liveness_timeout: float = 4.0) -> None:
        self.nc = nc
        self.liveness_timeout = liveness_timeout
        self._prefix = ""
        self._tokens = itertools.count(1)
        self._answers: dict[str, _Answers] = {}
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        """Subscribe to this gateway's answer inbox."""
        self._prefix = self.nc.new_inbox()
        self._subscription = await self.nc.subscribe(f"{self._prefix}.*", cb=self._on_answer)

    async def _on_answer(self, msg: Msg) -> None:
        answers = self._answers.get(msg.subject[len(self._prefix) + 1 :])
        if answers is None:
            return  # the caller gave up on it
        headers = msg.headers or {}
        if "Hs-Seq" in headers:  # a streamed frame, the commonest message
            answers.push(Frame(msg.data))
        elif headers.get(LIVENESS_HEADER):
            answers.heard()
        elif headers.get("Status") == "503":  # the server's "no responders": no router is up
            unavailable = api_error(answers.api, 503, "no router is available")
            end = InferEnd(status=503, body=msgspec.Raw(unavailable), retry_after=1)
            answers.push(Frame(b"", end))
        elif headers.get("Hs-End"):
            answers.push(Frame(b"", _end_decoder.decode(msg.data)))
        else:
            answers.push(Frame(msg.data))

    async def call(self, request: InferRequest) -> AsyncGenerator[Frame, None]:
        """Send the request; yield its frames and finally its end frame."""
        token = str(next(self._tokens))
        answers = self._answers[token] = _Answers(request.api)
        try:
            await self.nc.publish(
                INFER_SUBJECT, _encoder.encode(request), reply=f"{self._prefix}.{token}"
            )
            while True:
                frame = await answers.next(self.liveness_timeout)
                yield frame
                if frame.end is not None:
                    return
        finally:
            self._answers.pop(token, None)

    async def cancel(self, request_id: str) -> None:
        """Tell the router the client went away (it stops the upstream call)."""
        await self.nc.publish(f"{CANCEL_SUBJECT_PREFIX}{request_id}", b"")
