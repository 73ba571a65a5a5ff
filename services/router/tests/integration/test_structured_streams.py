"""`structured_output` on streamed answers, through the gateway: the stream is checked at its
end; an answer off the schema ends with an error frame (`data: {"error": ...}`, no `[DONE]`),
and `inference.failed` records it as `structured_output_invalid`."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from inference_support import InferenceStack, inference_stack
from nats.aio.msg import Msg

from hyperstrate_kit.testing import Infrastructure, wait_for

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
STRUCTURED = {"structured_output": {}}


def _body(router: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": router,
        "stream": True,
        "messages": [{"role": "user", "content": "the answer?"}],
        **extra,
    }


def _openai_schema() -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}


async def _events(stack: InferenceStack, subject: str) -> list[dict[str, Any]]:
    """Every `subject` event published from now on (a live list)."""
    seen: list[dict[str, Any]] = []

    async def keep(msg: Msg) -> None:
        seen.append(msgspec.json.decode(msg.data))

    await stack.nc.subscribe(subject, cb=keep)
    return seen


async def _stream(stack: InferenceStack, key: str, path: str, body: dict[str, Any]) -> str:
    """The stream's whole text, once the router knows the router (a 200 with frames)."""

    async def streamed() -> str | None:
        async with stack.client(key) as client, client.stream("POST", path, json=body) as answer:
            text = (await answer.aread()).decode()
            return text if answer.status_code == 200 and text else None

    result: str = await wait_for(streamed, timeout=10, message="a streamed answer")
    return result


async def test_an_invalid_streamed_answer_ends_with_an_error_frame_and_a_failed_event(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        off_schema = stack.register('fake-gpt;json={"answer": "forty-two"}')
        await stack.router("structured-bad", [off_schema], features=STRUCTURED)
        key = await stack.api_key()
        failed = await _events(stack, "inference.failed")
        text = await _stream(
            stack,
            key,
            "/v1/chat/completions",
            _body("structured-bad", response_format=_openai_schema()),
        )
        frames = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
        assert "[DONE]" not in frames
        error = json.loads(frames[-1])["error"]
        assert error["code"] == "structured_output_invalid"
        assert "does not match the requested JSON schema" in error["message"]
        streamed = "".join(
            choice["delta"].get("content") or ""
            for frame in frames[:-1]
            for choice in json.loads(frame)["choices"]
        )
        assert json.loads(streamed) == {"answer": "forty-two"}  # it reached the client first
        event = await wait_for(lambda: failed[-1] if failed else None, message="inference.failed")
        assert event["status_code"] == 502
        assert event["error_class"] == "structured_output_invalid"
        assert event["output_tokens"] > 0  # what ran is billed


async def test_a_valid_streamed_answer_finishes_cleanly(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        on_schema = stack.register('fake-gpt;json={"answer": 42}')
        await stack.router("structured-good", [on_schema], features=STRUCTURED)
        key = await stack.api_key()
        text = await _stream(
            stack,
            key,
            "/v1/chat/completions",
            _body("structured-good", response_format=_openai_schema()),
        )
        frames = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
        assert frames[-1] == "[DONE]"
        assert not any('"error"' in frame for frame in frames)
