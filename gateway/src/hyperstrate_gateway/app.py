"""Composition root of the gateway service: wires ports to adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
import msgspec

from hyperstrate_contracts.auth import KEY_USAGE_SUBJECT, KeyUsageBatch
from hyperstrate_contracts.router import PAYLOAD_BUCKET, router_registry
from hyperstrate_gateway.api.admin_proxy import admin_proxy_handlers
from hyperstrate_gateway.api.swagger import MergedOpenApi, SwaggerFront
from hyperstrate_gateway.inference.asgi import InferenceFront
from hyperstrate_gateway.inference.auth import InferAuth
from hyperstrate_gateway.inference.directory import RouterDirectory
from hyperstrate_gateway.inference.hop import ReplyMux
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.payloads import PayloadStore
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app

__all__ = ["create_app", "definition"]

log = logging.getLogger(__name__)
KEY_USAGE_REPORT_SECONDS = 5.0


def _routes(runtime: Runtime[GatewaySettings]) -> list[Any]:
    # One pooled client per app; it binds to the server's event loop on first use.
    client = httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_keepalive_connections=50))
    runtime.services["admin_http"] = client
    return [*admin_proxy_handlers(runtime.settings.admin_routes(), client)]


def _front(runtime: Runtime[GatewaySettings], app: Any) -> Any:
    """The hot inference routes, then the merged `/swagger`, then the Litestar app."""
    openapi = MergedOpenApi(runtime.settings.admin_routes(), runtime.services["admin_http"])
    return InferenceFront(runtime.services, SwaggerFront(openapi, app))


async def _start(runtime: Runtime[GatewaySettings]) -> None:
    runtime.on_stop(runtime.services["admin_http"].aclose)
    assert runtime.nc is not None
    routers = RouterDirectory()
    # Keys and session users: the kit's projection of the AUTH stream (runtime.sessions).
    await runtime.follow("router.router.>", routers.apply, router_registry())
    mux = ReplyMux(runtime.nc, runtime.settings.router_liveness_timeout_secs)
    await mux.start()
    auth = InferAuth(runtime.sessions, routers)
    payloads = PayloadStore(
        runtime.nc, PAYLOAD_BUCKET, replicas=runtime.settings.nats_stream_replicas
    )
    runtime.services.update(infer_auth=auth, reply_mux=mux, payloads=payloads)
    runtime.spawn(_report_key_usage(runtime, auth), "key-usage-report")


async def _report_key_usage(runtime: Runtime[GatewaySettings], auth: InferAuth) -> None:
    """Last-used times go to auth in batches: one write per batch, not per request."""
    assert runtime.nc is not None
    while True:
        await asyncio.sleep(KEY_USAGE_REPORT_SECONDS)
        seen = auth.take_usage()
        if seen:
            with contextlib.suppress(Exception):
                await runtime.nc.publish(
                    KEY_USAGE_SUBJECT, msgspec.json.encode(KeyUsageBatch(last_used=seen))
                )


definition: ServiceDefinition[GatewaySettings] = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    migrations=None,
    route_handlers=_routes,
    on_start=[_start],
    wrap=_front,
)


def create_app(settings: GatewaySettings) -> Any:
    """The gateway's ASGI app: the hot inference routes in front of the Litestar app."""
    return create_service_app(definition, settings)
