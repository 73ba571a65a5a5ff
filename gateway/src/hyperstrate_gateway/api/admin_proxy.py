"""Admin pass-through: `/auth`, `/ai`, `/routers`, `/prompts`, `/observability` are forwarded
to the service that owns them, so one base URL serves the whole admin API.

The path and query go upstream exactly as the client sent them (still percent-encoded);
a path whose decoding could reach another endpoint is refused with a 400 instead
(see `hyperstrate_gateway.domain.forwarded_path`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from litestar import Request, route
from litestar.handlers import HTTPRouteHandler
from litestar.response.base import ASGIResponse

from hyperstrate_gateway.domain.forwarded_path import path_problem
from hyperstrate_kit.errors import AppError, InvalidInputError, UnavailableError
from hyperstrate_kit.logs import request_id_var

__all__ = ["UpstreamTimeoutError", "admin_proxy_handlers", "forwarding_failure"]

_METHODS: list[Any] = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# Hop-by-hop headers (RFC 9110 7.6.1) and those httpx recomputes.
_DROPPED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# httpx hands over the answer already decompressed, so its encoding no longer applies.
# The request id is the gateway's own (the client's when valid): sent upstream, so the
# service logs and records it on its events, and answered once, by the gateway's middleware.
# `server` and `date` come from the gateway's own HTTP server, and CORS from its own CORS
# middleware (the same FRONTEND_URL): the service's copies would answer each twice.
_DROPPED_FROM_ANSWER = _DROPPED | {
    "content-encoding",
    "x-request-id",
    "server",
    "date",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
}
_DROPPED_UPSTREAM = _DROPPED | {"x-request-id", "x-forwarded-for"}


class UpstreamTimeoutError(AppError):
    """The service behind the pass-through did not answer in time (504)."""

    status_code = 504
    default_message = "the service did not answer in time"


def _forwardable(headers: Any, dropped: frozenset[str] = _DROPPED) -> list[tuple[str, str]]:
    # Each occurrence as it came: `items()` would join two Set-Cookie headers into one.
    return [(k, v) for k, v in headers.multi_items() if k.lower() not in dropped]


def _upstream_headers(headers: Any, peer: str) -> list[tuple[str, str]]:
    forwarded = _forwardable(headers, _DROPPED_UPSTREAM)
    # Like every proxy, append the address we saw: a service trusting this gateway (auth's
    # login throttle, TRUSTED_PROXIES) reads that hop, never what the client wrote before it.
    hops = [v for k, v in headers.multi_items() if k.lower() == "x-forwarded-for"]
    if peer:
        forwarded.append(("x-forwarded-for", ", ".join([*hops, peer])))
    request_id = request_id_var.get()
    return [*forwarded, ("x-request-id", request_id)] if request_id else forwarded


def admin_proxy_handlers(
    routes: dict[str, str], client: httpx.AsyncClient
) -> list[HTTPRouteHandler]:
    """One catch-all handler per admin prefix."""
    handlers: list[HTTPRouteHandler] = []
    for prefix, upstream in routes.items():
        handlers.append(_handler(prefix, upstream.rstrip("/"), client))
    return handlers


def forwarding_failure(service: str, exc: Exception) -> AppError:
    """The answer for an httpx failure while forwarding: a client error for a request that
    cannot go upstream as sent, 504 for a timeout, 503 for everything else; never a 500."""
    if isinstance(exc, httpx.InvalidURL | httpx.LocalProtocolError):
        return InvalidInputError(
            "the request cannot be forwarded as sent", fields={"path": [str(exc)[:200]]}
        )
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError(f"{service} service did not answer in time")
    return UnavailableError(f"{service} service unavailable")


def _target(scope: Any, base_path: bytes) -> bytes:
    """The request target upstream: the client's raw path and raw query, untouched."""
    raw_path: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
    problem = path_problem(raw_path)
    if problem is not None:
        raise InvalidInputError(f"invalid path: {problem}", fields={"path": [problem]})
    query: bytes = scope.get("query_string", b"")
    return base_path + raw_path + (b"?" + query if query else b"")


def _handler(prefix: str, upstream: str, client: httpx.AsyncClient) -> HTTPRouteHandler:
    service = prefix.strip("/")
    base_path = httpx.URL(upstream).raw_path.rstrip(b"/")

    async def forward(request: Request[Any, Any, Any]) -> ASGIResponse:
        # The `target` extension makes httpcore send these bytes as they are: httpx would
        # otherwise re-normalise the path (dot segments, re-quoting).
        target = _target(request.scope, base_path)
        try:
            answer = await client.request(
                request.method,
                upstream,
                headers=_upstream_headers(
                    request.headers, request.client.host if request.client else ""
                ),
                content=await request.body(),
                extensions={"target": target},
            )
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise forwarding_failure(service, exc) from exc
        # Not a Response: its headers are a dict, one value per name.
        return ASGIResponse(
            body=answer.content,
            status_code=answer.status_code,
            headers=_forwardable(answer.headers, _DROPPED_FROM_ANSWER),
            media_type=answer.headers.get("content-type"),
        )

    return route(
        [prefix, f"{prefix}/{{path:path}}"],
        http_method=_METHODS,
        name=f"proxy-{service}",
        operation_id=f"Proxy{service.title()}",
        include_in_schema=False,
    )(forward)
