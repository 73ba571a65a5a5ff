"""The gateway's silence deadline per request (hop._Answers): silence past it is a router gone;
a stall of the gateway's own event loop is not taken for the router's silence."""

from __future__ import annotations

import asyncio
import time

import pytest

from hyperstrate_gateway.inference.hop import Frame, RouterSilent, _Answers


async def test_silence_past_the_deadline_is_a_router_gone() -> None:
    answers = _Answers("openai")
    started = time.monotonic()
    with pytest.raises(RouterSilent, match="stopped answering"):
        await answers.next(0.3)
    assert 0.3 <= time.monotonic() - started < 1.0


async def test_a_liveness_message_moves_the_deadline() -> None:
    answers = _Answers("openai")
    loop = asyncio.get_running_loop()
    for at in (0.2, 0.4, 0.6):  # heard from every 0.2 s, past the 0.3 s deadline
        loop.call_later(at, answers.heard)
    loop.call_later(0.8, answers.push, Frame(b"data: late but alive\n\n"))
    assert (await answers.next(0.3)).data == b"data: late but alive\n\n"


async def test_a_frame_that_arrived_while_the_gateway_itself_stalled_is_no_502() -> None:
    answers = _Answers("openai")
    waiting = asyncio.create_task(answers.next(0.3))
    await asyncio.sleep(0)  # it waits, its deadline armed

    async def deliver() -> None:
        answers.push(Frame(b"data: was in the socket\n\n"))

    time.sleep(0.6)  # noqa: ASYNC251 - a busy gateway: its loop blocked past the deadline
    # As nats-py does, the message read meanwhile is handed over by a task of its own, after
    # the late deadline check has run.
    asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(deliver()))
    assert (await waiting).data == b"data: was in the socket\n\n"
