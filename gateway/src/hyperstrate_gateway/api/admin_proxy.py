"""Admin pass-through: `/auth`, `/ai`, `/routers`, `/prompts`, `/observability` are forwarded
to the service that owns them, so one base URL serves the whole admin API."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request, Response, route
from litestar.handlers import HTTPRouteHandler

from hyperstrate_kit.errors import UnavailableError

__all__ = ["admin_proxy_handlers"]

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


def _forwardable(headers: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k.lower() not in _DROPPED]


def admin_proxy_handlers(
    routes: dict[str, str], client: httpx.AsyncClient
) -> list[HTTPRouteHandler]:
    """One catch-all handler per admin prefix."""
    handlers: list[HTTPRouteHandler] = []
    for prefix, upstream in routes.items():
        handlers.append(_handler(prefix, upstream.rstrip("/"), client))
    return handlers


def _handler(prefix: str, upstream: str, client: httpx.AsyncClient) -> HTTPRouteHandler:
    async def forward(request: Request[Any, Any, Any]) -> Response[bytes]:
        target = f"{upstream}{request.url.path}"
        if request.url.query:
            target = f"{target}?{request.url.query}"
        try:
            answer = await client.request(
                request.method,
                target,
                headers=_forwardable(request.headers),
                content=await request.body(),
            )
        except httpx.HTTPError as exc:
            raise UnavailableError(f"{prefix.strip('/')} service unavailable") from exc
        return Response(
            answer.content,
            status_code=answer.status_code,
            headers=dict(_forwardable(answer.headers)),
            media_type=answer.headers.get("content-type"),
        )

    name = prefix.strip("/")
    return route(
        [prefix, f"{prefix}/{{path:path}}"],
        http_method=_METHODS,
        name=f"proxy-{name}",
        operation_id=f"Proxy{name.title()}",
        include_in_schema=False,
    )(forward)
