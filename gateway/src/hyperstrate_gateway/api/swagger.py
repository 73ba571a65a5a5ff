"""The gateway's `/swagger`: one OpenAPI document for the whole product and Swagger UI on it.

The document merges each admin service's own (`<service>/swagger/openapi.json`, only the paths
under the prefix it owns) with the inference routes the gateway answers itself. It is cached
for a short time, so Swagger UI reloads do not fan out to every service; a service that is down
is left out and named under `x-unavailable-services`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import msgspec
from litestar.openapi.plugins import SwaggerRenderPlugin

from hyperstrate_gateway.api.inference_openapi import inference_openapi
from hyperstrate_gateway.api.openapi_merge import DocumentPart, JsonObject, merge_openapi
from hyperstrate_kit.errors import ErrorBody
from hyperstrate_kit.http import RequestContextMiddleware

__all__ = ["MergedOpenApi", "SwaggerFront", "swagger_ui_page"]

SWAGGER_PATH = "/swagger"
DOCUMENT_PATH = "/swagger/openapi.json"
CACHE_SECONDS = 30.0
#: A document missing a service is rebuilt sooner: the service may just be starting.
INCOMPLETE_CACHE_SECONDS = 5.0
FETCH_TIMEOUT_SECONDS = 5.0
UNAVAILABLE = "x-unavailable-services"


class MergedOpenApi:
    """Builds and caches the merged document from the services' own documents."""

    def __init__(
        self,
        routes: dict[str, str],
        client: httpx.AsyncClient,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.routes = {prefix: url.rstrip("/") for prefix, url in routes.items()}
        self.client = client
        self.cache_seconds = cache_seconds
        self._cached: tuple[float, bytes] | None = None
        self._lock = asyncio.Lock()

    async def encoded(self) -> bytes:
        """The merged document as JSON, from the cache while it is fresh."""
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:  # concurrent reloads wait for one build
            cached = self._fresh()
            if cached is not None:
                return cached
            document = await self.build()
            encoded = msgspec.json.encode(document)
            ttl = self.cache_seconds
            if document.get(UNAVAILABLE):
                ttl = min(ttl, INCOMPLETE_CACHE_SECONDS)
            self._cached = (time.monotonic() + ttl, encoded)
            return encoded

    def _fresh(self) -> bytes | None:
        if self._cached is not None and self._cached[0] > time.monotonic():
            return self._cached[1]
        return None

    async def build(self) -> JsonObject:
        """Fetch every service's document and merge them with the inference routes."""
        prefixes = list(self.routes)
        fetched = await asyncio.gather(*(self._fetch(self.routes[p]) for p in prefixes))
        parts = [DocumentPart("gateway", inference_openapi())]
        unavailable: list[JsonObject] = []
        for prefix, result in zip(prefixes, fetched, strict=True):
            name = prefix.strip("/")
            if isinstance(result, dict):
                parts.append(DocumentPart(name, result, prefix))
            else:
                unavailable.append({"service": name, "prefix": prefix, "reason": result})
        description = (
            "The whole hyperstrate API through the gateway: the inference routes it answers "
            "itself, and the admin APIs it passes through ("
            + ", ".join(f"`{prefix}`" for prefix in prefixes)
            + ")."
        )
        if unavailable:
            names = ", ".join(f"`{entry['prefix']}`" for entry in unavailable)
            description += f"\n\nNot included, the service did not answer: {names}."
        info = {"title": "hyperstrate gateway", "version": "0.1.0", "description": description}
        return merge_openapi(info, parts, {UNAVAILABLE: unavailable} if unavailable else None)

    async def _fetch(self, upstream: str) -> JsonObject | str:
        """The service's document, or why there is none."""
        try:
            answer = await self.client.get(
                f"{upstream}{DOCUMENT_PATH}", timeout=FETCH_TIMEOUT_SECONDS
            )
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__})"
        if answer.status_code != 200:
            return f"answered HTTP {answer.status_code}"
        try:
            document = answer.json()
        except ValueError:
            return "answered something that is not JSON"
        if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
            return "answered something that is not an OpenAPI document"
        return document


def swagger_ui_page(document_url: str, title: str) -> bytes:
    """Swagger UI on `document_url`, with the assets, version and options the services' own
    pages use (Litestar's SwaggerRenderPlugin), but loading the document by URL."""
    assets = SwaggerRenderPlugin()
    return f"""<!DOCTYPE html>
<html>
  <head>
    <title>{title}</title>
    {assets.favicon}
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link href="{assets.css_url}" rel="stylesheet">
    <script src="{assets.js_url}" crossorigin></script>
    <script src="{assets.standalone_preset_js_url}" crossorigin></script>
    {assets.style}
  </head>
  <body>
    <div id="swagger-container"></div>
    <script type="text/javascript">
      const ui = SwaggerUIBundle({{
        url: {json.dumps(document_url)},
        dom_id: "#swagger-container",
        deepLinking: true,
        showExtensions: true,
        showCommonExtensions: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
      }})
    </script>
  </body>
</html>
""".encode()


class SwaggerFront:
    """Answers `/swagger` and `/swagger/openapi.json` in front of the Litestar app, whose own
    `/swagger` would only describe the gateway's Litestar routes; the rest goes to `app`."""

    def __init__(self, openapi: MergedOpenApi, app: Any) -> None:
        self.openapi = openapi
        self.app = app
        self.page = swagger_ui_page(DOCUMENT_PATH, "hyperstrate gateway")
        self._handle = RequestContextMiddleware(self._swagger)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == SWAGGER_PATH or path.startswith(f"{SWAGGER_PATH}/"):
            await self._handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _swagger(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"].rstrip("/")
        if path not in (SWAGGER_PATH, DOCUMENT_PATH):
            await _respond(send, 404, _error("not found"), b"application/json")
            return
        scope["path_template"] = path  # the request metric's route label
        if scope["method"] != "GET":
            await _respond(
                send, 405, _error("method not allowed"), b"application/json", [(b"allow", b"GET")]
            )
        elif path == DOCUMENT_PATH:
            await _respond(send, 200, await self.openapi.encoded(), b"application/json")
        else:
            await _respond(send, 200, self.page, b"text/html; charset=utf-8")


def _error(message: str) -> bytes:
    return msgspec.json.encode(ErrorBody(error=message))


async def _respond(
    send: Any,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
