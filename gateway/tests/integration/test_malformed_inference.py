"""A malformed inference body gets its 400 at once, on every inference route, in the API the
route speaks: from the gateway when it can tell, from the router's reply otherwise. Before,
the path-routed routes sent it on, the router could not decode its message and never
answered, and the client waited out the gateway's 300 s for a 504."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import msgspec
from inference_support import InferenceStack, inference_stack

from hyperstrate_contracts.router import INFER_SUBJECT, Caller, InferEnd, InferRequest
from hyperstrate_kit.testing import Infrastructure, wait_for

# Every answer must come well inside this; the gateway's own timeout is 300 s.
PROMPT_ANSWER_SECONDS = 5.0

MALFORMED_BODIES: dict[str, tuple[bytes, str]] = {
    # name: (body, content type)
    "truncated JSON": (b'{"messages": [{"role": "user", "content": "hi"', "application/json"),
    "empty body": (b"", "application/json"),
    "plain text": (b"hello, model", "text/plain"),
    "raw NUL": (b'{"messages": [{"role": "user", "content": "a\x00b"}]}', "application/json"),
    "invalid UTF-8": (
        b'{"model": "edge", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        "application/json",
    ),
    "invalid UTF-8 in a field the gateway does not read": (
        b'{"model": "edge", "messages": [{"role": "user", "content": "hi"}], "user": "\xc3"}',
        "application/json",
    ),
    "lone surrogate": (
        b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
        "application/json",
    ),
    "10,000-deep nesting": (
        b'{"messages": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        "application/json",
    ),
    "fuzzer's '+]'": (b"+]", "application/json"),
    "JSON array": (b'[{"role": "user", "content": "hi"}]', "application/json"),
    "JSON string": (b'"hi"', "application/json"),
}


def _routes(router_id: str) -> dict[str, str]:
    """Every inference route that takes a body, and the API it answers in."""
    return {
        f"/proxy/router/{router_id}/v1/chat/completions": "openai",
        f"/proxy/router/{router_id}/chat/completions": "openai",  # SDK base URL without /v1
        f"/proxy/router/{router_id}/v1/messages": "anthropic",
        f"/proxy/router/{router_id}/messages": "anthropic",
        f"/router/{router_id}/infer": "openai",
        f"/router/{router_id}/v1/chat/completions": "openai",
        f"/router/{router_id}/v1/messages": "anthropic",
        "/v1/chat/completions": "openai",
        "/v1/messages": "anthropic",
    }


def _assert_invalid_request(api: str, answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 400, (what, answer.status_code, answer.text[:300])
    body = answer.json()
    if api == "anthropic":
        assert body["type"] == "error", (what, body)
        assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]
    else:
        assert body["error"]["type"] == "invalid_request_error", (what, body)
        assert body["error"]["message"]


async def _ready(stack: InferenceStack, key: str, router_id: str) -> None:
    """Until gateway and router both know the key and the router."""

    async def answered() -> bool:
        async with stack.client(key) as client:
            answer = await client.post(
                f"/router/{router_id}/infer",
                json={"model": "edge", "messages": [{"role": "user", "content": "ping"}]},
            )
            return answer.status_code == 200

    await wait_for(answered, timeout=15, message="the router to be known")


async def test_every_malformed_body_on_every_inference_route_is_a_prompt_400(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        router_id = await stack.router("edge", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, router_id)
        async with stack.client(key) as client:
            client.timeout = httpx.Timeout(PROMPT_ANSWER_SECONDS)
            for route, api in _routes(router_id).items():
                for name, (body, content_type) in MALFORMED_BODIES.items():
                    headers = {"content-type": content_type}
                    if api == "anthropic":  # the fuzzer's header came along with its '+]'
                        headers["anthropic-version"] = "gu|Fje;2CZ99[jd"
                    started = time.monotonic()
                    answer = await client.post(route, content=body, headers=headers)
                    _assert_invalid_request(api, answer, f"{name} on {route}")
                    assert time.monotonic() - started < PROMPT_ANSWER_SECONDS


async def test_the_router_answers_a_request_it_cannot_decode_in_the_route_s_api(
    infrastructure: Infrastructure,
) -> None:
    """What the gateway cannot tell (a message from an older gateway, nesting that decodes
    at the gateway but not inside the router's message) the router still answers."""
    async with inference_stack(infrastructure) as stack:
        for api in ("openai", "anthropic"):
            request = InferRequest(
                request_id=uuid.uuid4().hex,
                router_id="rtr_any",
                api=api,  # type: ignore[arg-type]
                caller=Caller(org_id=stack.org_id, kind="api_key"),
                body=msgspec.Raw(b'{"messages": [1, '),  # embedded as sent: the message breaks
            )
            message = msgspec.json.encode(request)
            reply = await stack.nc.request(INFER_SUBJECT, message, timeout=PROMPT_ANSWER_SECONDS)
            assert (reply.headers or {}).get("Hs-End") == "1"
            end = msgspec.json.decode(reply.data, type=InferEnd)
            assert end.status == 400
            error: Any = msgspec.json.decode(bytes(end.body))
            if api == "anthropic":
                assert error["type"] == "error"
                assert error["error"]["type"] == "invalid_request_error"
            else:
                assert error["error"]["type"] == "invalid_request_error"


async def test_a_router_in_the_path_needs_no_model(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        router_id = await stack.router("edge", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, router_id)
        message = {"role": "user", "content": "no model named"}
        async with stack.client(key) as client:
            infer = await client.post(f"/router/{router_id}/infer", json={"messages": [message]})
            assert infer.status_code == 200, infer.text
            assert infer.json()["choices"][0]["message"]["content"]
            anthropic = await client.post(
                f"/proxy/router/{router_id}/v1/messages",
                json={"max_tokens": 32, "messages": [message]},
            )
            assert anthropic.status_code == 200, anthropic.text
            assert anthropic.json()["type"] == "message"
            # Where `model` is what names the router, it is still required.
            unnamed = await client.post("/v1/chat/completions", json={"messages": [message]})
            assert unnamed.status_code == 400
            assert "model" in unnamed.json()["error"]["message"]


OUT_OF_RANGE: list[tuple[dict[str, Any], str]] = [
    # (fields over a valid body, the parameter named)
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"temperature": -1}, "temperature"),
    ({"temperature": 1e308}, "temperature"),
    ({"top_p": 1.5}, "top_p"),
    ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
]


def _anthropic_field(param: str) -> str:
    return param.replace("[", ".").replace("]", "")


async def test_an_out_of_range_parameter_is_a_400_naming_it_on_every_route(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        router_id = await stack.router("edge", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, router_id)
        valid = {"model": "edge", "max_tokens": 16, "messages": [{"role": "user", "content": "x"}]}
        assert stack.upstream is not None
        forwarded_before = len(stack.upstream.requests)
        async with stack.client(key) as client:
            for route, api in _routes(router_id).items():
                for fields, param in OUT_OF_RANGE:
                    answer = await client.post(route, json={**valid, **fields})
                    _assert_invalid_request(api, answer, f"{param} on {route}")
                    error = answer.json()["error"]
                    if api == "anthropic":
                        assert error["message"].startswith(f"{_anthropic_field(param)}: "), error
                    else:
                        assert error["param"] == param, (route, error)
            assert len(stack.upstream.requests) == forwarded_before  # none reached a provider
            # Anthropic's own range is narrower than OpenAI's, and its roles fewer.
            for body in ({"temperature": 1.5}, {"messages": [{"role": "system", "content": "x"}]}):
                openai_route = await client.post("/v1/chat/completions", json={**valid, **body})
                assert openai_route.status_code == 200, openai_route.text
                anthropic_route = await client.post("/v1/messages", json={**valid, **body})
                assert anthropic_route.status_code == 400, anthropic_route.text


async def test_a_caller_without_access_is_told_so_before_what_is_wrong_with_the_body(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        router_id = await stack.router("edge", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, router_id)
        body = {"model": "edge", "messages": [], "temperature": -1}
        async with stack.client("hs_not_a_key") as client:
            for route in (f"/router/{router_id}/v1/chat/completions", "/v1/chat/completions"):
                assert (await client.post(route, json=body)).status_code == 401, route
        async with stack.client(key) as client:
            unknown = await client.post("/v1/chat/completions", json={**body, "model": "nope"})
            assert unknown.status_code == 404
