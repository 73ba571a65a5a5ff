"""`storePayloads` over the real path (gateway -> NATS -> router -> fake upstream): each
inference of such a router puts an `inference.payload.captured` on the INFERENCE stream with
the request as the model got it (the linked prompt first) and the answer, a stream assembled;
a body over PAYLOAD_MAX_BYTES is cut and flagged; a router without it captures nothing."""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

import msgspec
from inference_support import InferenceStack, inference_stack
from nats.aio.msg import Msg

from hyperstrate_contracts.prompts import PromptCreated
from hyperstrate_contracts.router import RouterConfigured
from hyperstrate_kit.testing import Infrastructure, wait_for

MAX_BYTES = 2048


class InferenceEvents:
    """Every INFERENCE event of one organisation published from now on, by type."""

    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.by_type: dict[str, list[dict[str, Any]]] = {}

    async def on_message(self, message: Msg) -> None:
        event = msgspec.json.decode(message.data)
        if event["org_id"] == self.org_id:
            self.by_type.setdefault(event["type"], []).append(event)

    def of(self, event_type: str, request_id: str) -> dict[str, Any] | None:
        found = [e for e in self.by_type.get(event_type, []) if e["request_id"] == request_id]
        return found[0] if found else None


async def _chat(stack: InferenceStack, key: str, body: dict[str, Any]) -> tuple[str, str]:
    """Send one chat (whole or streamed); the request id and the text the client got."""
    async with stack.client(key) as client:
        if not body.get("stream"):
            response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
            return response.headers["x-request-id"], response.json()["choices"][0]["message"][
                "content"
            ]
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            text = ""
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    for choice in json.loads(line[6:])["choices"]:
                        text += choice["delta"].get("content") or ""
            return response.headers["x-request-id"], text


async def test_payloads_are_captured_assembled_and_capped_only_where_enabled(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(
        infrastructure, router_environ={"PAYLOAD_MAX_BYTES": str(MAX_BYTES)}
    ) as stack:
        registration = stack.register(model="fake-gpt;echo")
        stored = await stack.router("stored", [registration])
        await stack.router("plain", [registration])
        prompt_id = f"pmt_{uuid.uuid4().hex[:10]}"
        await stack.publish(
            PromptCreated(
                org_id=stack.org_id,
                aggregate_id=prompt_id,
                name="pirate",
                text="You answer as a pirate.",
                version_number=1,
            ),
            RouterConfigured(
                org_id=stack.org_id,
                aggregate_id=stored,
                prompt_id=prompt_id,
                store_payloads=True,
            ),
        )
        events = InferenceEvents(stack.org_id)
        subscription = await stack.nc.jetstream().subscribe(
            "inference.>", cb=events.on_message, ordered_consumer=True
        )
        key = await stack.api_key()

        async def storing() -> bool:
            async with stack.client(key) as client:
                response = await client.post(
                    "/v1/chat/completions",
                    json={"model": "stored", "messages": [{"role": "user", "content": "hi"}]},
                )
            if response.status_code != 200:
                return False  # the router, its prompt or the key not known yet
            request_id = response.headers["x-request-id"]
            await wait_for(
                lambda: events.of("inference.completed", request_id),
                timeout=5,
                message="the warm-up's event",
            )
            return events.of("inference.payload.captured", request_id) is not None

        await wait_for(storing, timeout=15, message="the router storing payloads")
        try:
            # First the router without storePayloads: the events go out in order, so once the
            # later requests' payloads are there, this one's would have been too.
            plain_id, _ = await _chat(
                stack, key, {"model": "plain", "messages": [{"role": "user", "content": "hi"}]}
            )
            whole_id, whole_text = await _chat(
                stack,
                key,
                {"model": "stored", "messages": [{"role": "user", "content": "whole answer"}]},
            )
            stream_id, stream_text = await _chat(
                stack,
                key,
                {
                    "model": "stored",
                    "stream": True,
                    "messages": [{"role": "user", "content": "streamed answer"}],
                },
            )
            long_id, _ = await _chat(
                stack,
                key,
                {"model": "stored", "messages": [{"role": "user", "content": "x" * 3000}]},
            )

            def captured(request_id: str) -> dict[str, Any] | None:
                return events.of("inference.payload.captured", request_id)

            for request_id in (whole_id, stream_id, long_id):
                await wait_for(
                    functools.partial(captured, request_id),
                    timeout=10,
                    message=f"the payload of {request_id}",
                )
            assert events.of("inference.completed", plain_id) is not None
            assert captured(plain_id) is None

            whole = captured(whole_id)
            assert whole is not None and whole["router_id"] == stored
            request = json.loads(whole["request_body"])
            assert request["model"] == "fake-gpt;echo"  # the target's model
            assert request["messages"] == [
                {"role": "system", "content": "You answer as a pirate."},
                {"role": "user", "content": "whole answer"},
            ]
            answer = json.loads(whole["response_body"])
            assert answer["choices"][0]["message"]["content"] == whole_text == "whole answer"
            assert not whole["request_truncated"] and not whole["response_truncated"]

            streamed = captured(stream_id)
            assert streamed is not None
            assembled = json.loads(streamed["response_body"])
            assert assembled["object"] == "chat.completion"
            assert assembled["choices"][0]["message"]["content"] == stream_text
            assert stream_text == "streamed answer"

            cut = captured(long_id)
            assert cut is not None and cut["request_truncated"] and cut["response_truncated"]
            assert len(cut["request_body"].encode()) == MAX_BYTES
            assert len(cut["response_body"].encode()) == MAX_BYTES
        finally:
            await subscription.unsubscribe()
