"""The gateway's hot routes as plain ASGI (no framework on the inference path).

`/v1/chat/completions`, `/v1/messages`, `/v1/models`, `/router/{id}/infer`,
`/router/{id}/v1/chat/completions`, `/router/{id}/v1/messages` and `/proxy/router/{id}/...`
(usable as the OpenAI or Anthropic SDK's base URL) are answered here; every other path goes
to the Litestar app (admin pass-through, health, metrics, Swagger).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from typing import Any, Literal

import msgspec

from hyperstrate_contracts.router import InferRequest
from hyperstrate_gateway.inference.auth import AccessDenied, InferAuth, Verdict
from hyperstrate_gateway.inference.hop import Frame, ReplyMux, RouterSilent
from hyperstrate_kit.http import RequestContextMiddleware
from hyperstrate_kit.logs import request_id_var
from hyperstrate_kit.payloads import PayloadMissing, PayloadStore
from hyperstrate_kit.telemetry import current_trace_id
from hyperstrate_providers.client_errors import api_error, stream_error_frame
from hyperstrate_providers.request_checks import (
    InvalidRequestBody,
    check_chat_completion,
    check_messages,
    model_named_in,
)

__all__ = ["InferenceFront"]

log = logging.getLogger(__name__)
Api = Literal["openai", "anthropic"]
MAX_BODY_BYTES = 32 * 1024 * 1024
_JSON = [(b"content-type", b"application/json")]
_SSE = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


#: Each wire format's check of a body: one decode, the body's `model` out of it.
_BODY_CHECKS = {"openai": check_chat_completion, "anthropic": check_messages}
_encoder = msgspec.json.Encoder()


def _route(method: str, path: str) -> tuple[str, Api, str | None] | None:
    """(action, api, router ref from the path) for a hot route, else None."""
    parts = [part for part in path.split("/") if part]
    router_ref: str | None = None
    if len(parts) >= 3 and parts[0] == "router":
        router_ref, parts = parts[1], parts[2:]
        if parts == ["infer"]:
            return ("infer", "openai", router_ref) if method == "POST" else None
    elif len(parts) >= 4 and parts[:2] == ["proxy", "router"]:
        router_ref, parts = parts[2], parts[3:]
        if parts[:1] != ["v1"]:  # an SDK base URL with or without /v1
            parts = ["v1", *parts]
    if parts[:1] != ["v1"]:
        return None
    return _action(method, "/".join(parts[1:]), router_ref)


def _action(
    method: str, endpoint: str, router_ref: str | None
) -> tuple[str, Api, str | None] | None:
    if endpoint == "chat/completions" and method == "POST":
        return ("infer", "openai", router_ref)
    if endpoint == "messages" and method == "POST":
        return ("infer", "anthropic", router_ref)
    if endpoint == "models" and method == "GET":
        return ("models", "openai", router_ref)
    return None


class InferenceFront:
    """Hot routes here, the rest to `app`. Reads auth and the hop from the runtime's services."""

    def __init__(self, services: dict[str, Any], app: Any) -> None:
        self.services = services
        self.app = app
        # A successful inference is recorded by the router's `inference.completed` event
        # (observability's logs); an access line per success would only repeat it.
        self.hot = RequestContextMiddleware(self._hot, success_level=logging.DEBUG)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and _route(scope["method"], scope["path"]) is not None:
            await self.hot(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _hot(self, scope: Any, receive: Any, send: Any) -> None:
        route = _route(scope["method"], scope["path"])
        assert route is not None
        action, api, router_ref = route
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth: InferAuth | None = self.services.get("infer_auth")
        if auth is None:
            await _respond(send, 503, api_error(api, 503, "the gateway is starting"))
            return
        try:
            if action == "models":
                await self._models(auth, headers, router_ref, send)
                return
            body = await _read_body(receive)
            model, problem = _checked(api, body)
            router_ref = router_ref or model  # the path names the router, else `model` does
            if not router_ref:
                raise problem or AccessDenied(400, "`model` must name a router")
            # Who may call comes first: a caller without access learns nothing of the body.
            verdict = auth.authorize(headers, router_ref)
            if problem is not None:
                raise problem
            request = await self._request(api, verdict, body, _trace_id())
        except AccessDenied as denied:
            extra = (
                [(b"retry-after", str(max(1, round(denied.retry_after or 1))).encode())]
                if denied.status == 429
                else []
            )
            await _respond(
                send, denied.status, api_error(api, denied.status, denied.message), extra
            )
            return
        except InvalidRequestBody as invalid:
            # The router gets the body as sent, inside its own message: only a body the
            # provider would take may travel, and any other is answered here at once.
            error = invalid.anthropic_error() if api == "anthropic" else invalid.openai_error()
            await _respond(send, 400, _encoder.encode(error))
            return
        await self._relay(request, receive, send, api)

    async def _request(
        self, api: Api, verdict: Verdict, body: bytes, trace_id: str
    ) -> InferRequest:
        """The message to the router; a body too large for one is parked and sent by name."""
        body_ref = ""
        payloads: PayloadStore = self.services["payloads"]
        if not payloads.fits_in_message(len(body)):
            try:
                body_ref, body = await payloads.park(body), b"null"
            except Exception as exc:
                log.exception("could not park a %d-byte request body", len(body))
                raise AccessDenied(503, "large request bodies are unavailable right now") from exc
        return InferRequest(
            request_id=request_id_var.get() or uuid.uuid4().hex,
            router_id=verdict.router.id,
            api=api,
            caller=verdict.caller,
            body=msgspec.Raw(body),
            body_ref=body_ref,
            trace_id=trace_id,
        )

    async def _relay(self, request: InferRequest, receive: Any, send: Any, api: Api) -> None:
        mux: ReplyMux = self.services["reply_mux"]
        answers = mux.call(request)
        try:
            first = await anext(answers)
        except RouterSilent as silent:
            await _router_lost(mux, request, silent)
            await _respond(send, 502, api_error(api, 502, str(silent)))
            return
        if first.end is not None:  # a whole answer, or an error before any byte
            end = first.end
            extra = (
                [(b"retry-after", str(max(1, round(end.retry_after))).encode())]
                if end.retry_after
                else []
            )
            body = bytes(end.body)
            if end.body_ref:
                try:
                    body = await self.services["payloads"].take(end.body_ref)
                except PayloadMissing:
                    body = api_error(api, 502, "the router's answer expired before delivery")
                    end = msgspec.structs.replace(end, status=502)
            await _respond(send, end.status, body, extra)
            return
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        watcher = asyncio.ensure_future(_client_gone(receive))
        try:
            await _stream(first, answers, send, watcher)
        except (OSError, _ClientGone):
            await mux.cancel(request.request_id)  # stop the upstream call; what ran is billed
        except RouterSilent as silent:
            await _router_lost(mux, request, silent)
            with contextlib.suppress(OSError):  # the client's SDK raises on this event
                error = stream_error_frame(api, 502, str(silent))
                await send({"type": "http.response.body", "body": error, "more_body": False})
        finally:
            watcher.cancel()
            await answers.aclose()

    async def _models(
        self, auth: InferAuth, headers: dict[str, str], router_ref: str | None, send: Any
    ) -> None:
        caller, identity = auth.caller(headers)
        routers = auth.routers.of_org(caller.org_id)
        if router_ref is not None:
            routers = [r for r in routers if router_ref in (r.id, r.name)]
        visible = [
            r
            for r in routers
            if r.enabled
            and (identity is None or identity.allows_router(r.id))
            and auth.keys.router_allows_team(caller.org_id, r.id, caller.team_id)
        ]
        now = int(time.time())
        body = _encoder.encode(
            {
                "object": "list",
                "data": [
                    {
                        "id": r.name,
                        "object": "model",
                        "created": now,
                        "owned_by": "hyperstrate",
                        "router_id": r.id,
                    }
                    for r in visible
                ],
            }
        )
        await _respond(send, 200, body)


def _checked(api: Api, body: bytes) -> tuple[str, InvalidRequestBody | None]:
    """The body's `model` and what is wrong with it (None: nothing)."""
    try:
        return _BODY_CHECKS[api](body), None
    except InvalidRequestBody as problem:
        return model_named_in(body), problem


def _trace_id() -> str:
    """The caller's trace id (its `traceparent`, which the request middleware attached),
    else a new one, so that every inference event can be found by the trace it belongs to."""
    return current_trace_id() or f"{random.getrandbits(128):032x}"


class _ClientGone(Exception):
    pass


async def _router_lost(mux: ReplyMux, request: InferRequest, silent: RouterSilent) -> None:
    """Log the failure, and tell a router that may yet be alive (its words lost, or it is
    only slow) to stop: nobody will read its answer."""
    log.warning("inference %s failed: %s", request.request_id, silent)
    with contextlib.suppress(Exception):
        await mux.cancel(request.request_id)


async def _stream(first: Frame, answers: Any, send: Any, watcher: asyncio.Future[None]) -> None:
    frame = first
    while frame.end is None:
        if watcher.done():
            raise _ClientGone
        await send({"type": "http.response.body", "body": frame.data, "more_body": True})
        frame = await anext(answers)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _client_gone(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_body(receive: Any) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AccessDenied(400, "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise AccessDenied(413, "request body too large")
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


async def _respond(
    send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    with contextlib.suppress(OSError):
        await send(
            {"type": "http.response.start", "status": status, "headers": [*_JSON, *(extra or [])]}
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
