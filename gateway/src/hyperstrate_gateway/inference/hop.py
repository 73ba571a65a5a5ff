"""The one NATS hop to the router: a request on the queue group, answers on a shared inbox.

One wildcard subscription serves every request in flight (no SUB/UNSUB per request); each
request gets a token, and its answer messages (frames, then the end) land in its own queue.
"""

from __future__ import annotations

import asyncio
import itertools
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
    InferEnd,
    InferRequest,
)

__all__ = ["Frame", "ReplyMux", "RouterUnavailable"]

_encoder = msgspec.json.Encoder()
_end_decoder = msgspec.json.Decoder(InferEnd)


class RouterUnavailable(Exception):
    """No router answered in time."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One answer message: an SSE frame (`end` None) or the end of the answer."""

    data: bytes
    end: InferEnd | None = None


class _Answers:
    """One request's answer messages, in order. A plain deque and a waiter future: cheaper
    per frame than an asyncio.Queue read under `wait_for` (which makes a task each time)."""

    __slots__ = ("frames", "waiter")

    def __init__(self) -> None:
        self.frames: deque[Frame] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def push(self, frame: Frame) -> None:
        self.frames.append(frame)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self, timeout: float) -> Frame:
        while not self.frames:
            loop = asyncio.get_running_loop()
            self.waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
        return self.frames.popleft()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(RouterUnavailable("no answer from the router"))


class ReplyMux:
    """Requests to the router and their answers, over one inbox subscription."""

    def __init__(self, nc: NatsClient, first_answer_timeout: float = 300.0) -> None:
        self.nc = nc
        self.first_answer_timeout = first_answer_timeout
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
        if headers.get("Status") == "503":  # the server's "no responders": no router is up
            unavailable = b'{"error":{"message":"no router is available","type":"api_error"}}'
            answers.push(Frame(b"", InferEnd(status=503, body=msgspec.Raw(unavailable))))
        elif headers.get("Hs-End"):
            answers.push(Frame(b"", _end_decoder.decode(msg.data)))
        else:
            answers.push(Frame(msg.data))

    async def call(self, request: InferRequest) -> AsyncGenerator[Frame, None]:
        """Send the request; yield its frames and finally its end frame."""
        token = str(next(self._tokens))
        answers = self._answers[token] = _Answers()
        try:
            await self.nc.publish(
                INFER_SUBJECT, _encoder.encode(request), reply=f"{self._prefix}.{token}"
            )
            while True:
                frame = await answers.next(self.first_answer_timeout)
                yield frame
                if frame.end is not None:
                    return
        finally:
            self._answers.pop(token, None)

    async def cancel(self, request_id: str) -> None:
        """Tell the router the client went away (it stops the upstream call)."""
        await self.nc.publish(f"{CANCEL_SUBJECT_PREFIX}{request_id}", b"")
