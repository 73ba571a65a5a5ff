"""The edge on the running stack (`just up`), as a careless client and an attacker meet it:
out-of-range inference parameters are a 400 each official SDK raises as `BadRequestError`
naming the parameter; bodies no decoder takes are a 400 on every inference and admin route,
never a 500; every service answers with the security headers once; the caller's request id
comes back once and is the one both the gateway's and the service's logs carry."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
import pytest_asyncio
from stack_support import SERVICES, Demo, running_demo

pytestmark = pytest.mark.e2e

USER = {"role": "user", "content": "hi"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}

OPENAI_REFUSED: list[tuple[dict[str, Any], str]] = [
    # (arguments of chat.completions.create, the `param` of the error)
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [USER], "max_tokens": -1}, "max_tokens"),
    ({"messages": [USER], "max_completion_tokens": 0}, "max_completion_tokens"),
    ({"messages": [USER], "temperature": -1}, "temperature"),
    ({"messages": [USER], "temperature": 1e308}, "temperature"),
    ({"messages": [USER], "top_p": 1.5}, "top_p"),
    ({"messages": [USER], "n": 0}, "n"),
    ({"messages": [USER], "presence_penalty": 5}, "presence_penalty"),
]

ANTHROPIC_REFUSED: list[tuple[dict[str, Any], str]] = [
    # (arguments of messages.create, the field the error message starts with)
    ({"max_tokens": 16, "messages": []}, "messages"),
    ({"max_tokens": 16, "messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({"max_tokens": -1, "messages": [USER]}, "max_tokens"),
    ({"max_tokens": 0, "messages": [USER]}, "max_tokens"),
    # This SDK's messages.create no longer takes the sampling parameters; older ones and
    # plain HTTP clients still send them.
    ({"max_tokens": 16, "messages": [USER], "extra_body": {"temperature": -1}}, "temperature"),
    ({"max_tokens": 16, "messages": [USER], "extra_body": {"temperature": 1e308}}, "temperature"),
    ({"max_tokens": 16, "messages": [USER], "extra_body": {"temperature": 1.5}}, "temperature"),
    ({"max_tokens": 16, "messages": [USER], "extra_body": {"top_p": 2}}, "top_p"),
    ({"max_tokens": 16, "messages": [{"role": "user", "content": 7}]}, "messages.0.content"),
]

UNDECODABLE: dict[str, bytes] = {
    "invalid UTF-8": b'{"name": "\xff\xfe", "messages": [{"role": "user", "content": "\xc3"}]}',
    "lone surrogate": b'{"name": "\\ud800", "messages": [{"role": "user", "content": "\\ud800"}]}',
    "nested 10,000 deep": b'{"name": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
}


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async with running_demo(tmp_path_factory.mktemp("edge")) as started:
        yield started


async def _router_id(demo: Demo, name: str) -> str:
    routers = await demo.admin_call("GET", "/routers?perPage=500")
    return next(str(r["id"]) for r in routers["items"] if r["name"] == name)


async def test_the_openai_sdk_raises_bad_request_naming_the_param(demo: Demo) -> None:
    router_id = await _router_id(demo, "demo")
    clients = {
        "/v1": demo.openai(),
        "/proxy/router/{id}/v1": openai.AsyncOpenAI(
            base_url=f"{demo.gateway}/proxy/router/{router_id}/v1",
            api_key=demo.key,
            max_retries=0,
        ),
    }
    for base, client in clients.items():
        for arguments, param in OPENAI_REFUSED:
            with pytest.raises(openai.BadRequestError) as refused:
                await client.chat.completions.create(model="demo", **arguments)
            assert refused.value.status_code == 400
            assert (refused.value.param, refused.value.type) == (param, "invalid_request_error"), (
                base,
                arguments,
                refused.value.body,
            )
    answer = await demo.openai().chat.completions.create(
        model="demo", messages=[USER], temperature=2, top_p=1, max_tokens=8
    )
    assert answer.choices[0].message.content  # the bounds themselves are fine


async def test_the_anthropic_sdk_raises_bad_request_naming_the_field(demo: Demo) -> None:
    router_id = await _router_id(demo, "demo")
    clients = {
        "gateway": anthropic.AsyncAnthropic(base_url=demo.gateway, api_key=demo.key, max_retries=0),
        "/proxy/router/{id}": anthropic.AsyncAnthropic(
            base_url=f"{demo.gateway}/proxy/router/{router_id}", api_key=demo.key, max_retries=0
        ),
    }
    for base, client in clients.items():
        for arguments, field in ANTHROPIC_REFUSED:
            with pytest.raises(anthropic.BadRequestError) as refused:
                await client.messages.create(model="demo", **arguments)
            assert refused.value.status_code == 400
            body: Any = refused.value.body
            assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
            assert body["error"]["message"].startswith(f"{field}: "), (base, arguments, body)
    message = await clients["gateway"].messages.create(
        model="demo", max_tokens=8, messages=[USER], extra_body={"temperature": 1}
    )
    assert message.content


def _body_routes(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation in the merged document that takes a body, path
    parameters filled with an id that names nothing."""
    routes = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                routes.append((method.upper(), re.sub(r"\{[^}]+\}", "x1", path)))
    return routes


async def test_no_body_is_a_500_on_any_inference_or_admin_route(demo: Demo) -> None:
    router_id = await _router_id(demo, "demo")
    async with httpx.AsyncClient(base_url=demo.gateway, timeout=20) as client:
        document = (await client.get("/swagger/openapi.json")).json()
        routes = _body_routes(document)
        assert len(routes) > 30 and ("POST", "/v1/chat/completions") in routes, routes
        routes += [
            ("POST", f"/proxy/router/{router_id}/v1/chat/completions"),
            ("POST", f"/proxy/router/{router_id}/v1/messages"),
            ("POST", f"/router/{router_id}/infer"),
        ]
        failures = []
        for method, path in routes:
            headers = {**demo.admin, "content-type": "application/json"}
            if path.startswith(("/v1/", "/proxy/", "/router/")):
                headers["authorization"] = f"Bearer {demo.key}"
            for name, body in UNDECODABLE.items():
                answer = await client.request(method, path, content=body, headers=headers)
                if answer.status_code >= 500 or not _is_json(answer):
                    failures.append(f"{method} {path} ({name}): {answer.status_code} {answer.text}")
                elif router_id in path or path in ("/v1/chat/completions", "/v1/messages"):
                    assert answer.status_code == 400, (method, path, name, answer.text)
    assert not failures, "\n".join(failures)


def _is_json(answer: httpx.Response) -> bool:
    try:
        answer.json()
    except ValueError:
        return False
    return answer.headers.get("content-type", "").startswith("application/json")


def _assert_security_headers(answer: httpx.Response, where: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get_list(name) == [value], (where, name, answer.headers)


async def test_every_service_answers_with_the_security_headers_once(demo: Demo) -> None:
    for service in SERVICES:
        async with httpx.AsyncClient(base_url=demo.stack.url(service), timeout=20) as client:
            for path in ("/healthz", "/swagger", "/no/such/path"):
                answer = await client.get(path)
                _assert_security_headers(answer, f"{service} {path}")
            assert "text/html" in (await client.get("/swagger")).headers["content-type"]
    key = {"authorization": f"Bearer {demo.key}"}
    chat = {"model": "demo", "messages": [USER]}
    async with httpx.AsyncClient(base_url=demo.gateway, timeout=20) as client:
        answers = {
            "Swagger UI": await client.get("/swagger"),
            "merged document": await client.get("/swagger/openapi.json"),
            "admin pass-through": await client.get("/auth/teams", headers=demo.admin),
            "admin 401": await client.get("/auth/teams"),
            "models": await client.get("/v1/models", headers=key),
            "chat": await client.post("/v1/chat/completions", headers=key, json=chat),
            "chat 400": await client.post(
                "/v1/chat/completions", headers=key, json={**chat, "temperature": 9}
            ),
        }
        async with client.stream(
            "POST", "/v1/chat/completions", headers=key, json={**chat, "stream": True}
        ) as stream:
            await stream.aread()
            answers["stream"] = stream
    for where, answer in answers.items():
        _assert_security_headers(answer, where)
    assert answers["chat"].status_code == 200 and answers["chat 400"].status_code == 400


async def test_answers_with_a_token_or_a_key_are_no_store_through_the_gateway(
    demo: Demo,
) -> None:
    credentials = json.loads((demo.stack.data_dir / "demo.json").read_bytes())
    login = {"email": credentials["admin_email"], "password": credentials["admin_password"]}
    async with httpx.AsyncClient(timeout=20) as client:
        direct = await client.post(f"{demo.stack.url('auth')}/auth/login", json=login)
        via_gateway = await client.post(f"{demo.gateway}/auth/login", json=login)
        key = await client.post(
            f"{demo.gateway}/auth/api-keys", headers=demo.admin, json={"name": "no-store"}
        )
    assert direct.status_code == via_gateway.status_code == 200
    assert key.status_code == 201 and key.json()["key"]
    for answer in (direct, via_gateway, key):
        assert answer.headers.get_list("cache-control") == ["no-store"], answer.headers


async def test_the_request_id_comes_back_once_and_both_logs_carry_it(demo: Demo) -> None:
    request_id = f"edge-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(base_url=demo.gateway, timeout=20) as client:
        missing = await client.get(
            "/auth/users/usr_nobody", headers={**demo.admin, "x-request-id": request_id}
        )
        inference = await client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {demo.key}", "x-request-id": f"{request_id}-i"},
            json={"model": "demo", "messages": [USER]},
        )
    assert missing.status_code == 404
    assert missing.headers.get_list("x-request-id") == [request_id]
    assert missing.headers.get_list("server") == ["uvicorn"]
    assert len(missing.headers.get_list("date")) == 1
    assert inference.headers.get_list("x-request-id") == [f"{request_id}-i"]
    # The 404 is logged by the gateway and by auth, each under the caller's id.
    await asyncio.wait_for(_logged_by(demo, request_id, {"gateway", "auth"}), 15)


async def _logged_by(demo: Demo, request_id: str, services: set[str]) -> None:
    """Until each of `services` has printed a log line carrying `request_id`."""
    seen: set[str] = set()
    process = demo.stack.process
    assert process is not None and process.stdout is not None
    for line in demo.stack.output:
        _note(line, request_id, seen)
    while not services <= seen:
        line = (await process.stdout.readline()).decode(errors="replace")
        assert line, f"the stack exited; seen in the logs of {seen}"
        demo.stack.output.append(line)
        _note(line, request_id, seen)


def _note(line: str, request_id: str, seen: set[str]) -> None:
    if f"request_id={request_id}" in line or f'"request_id":"{request_id}"' in line:
        seen.add(line.split("|", 1)[0].strip())
