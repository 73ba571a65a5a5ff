"""The gateway's `/swagger`: one OpenAPI document of the running services and the inference
routes, and Swagger UI on it."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
from litestar import Litestar, get

from hyperstrate_auth.app import create_app as create_auth_app
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_gateway.api.swagger import MergedOpenApi
from hyperstrate_gateway.app import create_app as create_gateway_app
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.embedded import free_port
from hyperstrate_kit.http import create_http_app
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name
from hyperstrate_router.app import create_app as create_router_app
from hyperstrate_router.settings import RouterSettings

INFERENCE_PATHS = {
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/models",
    "/router/{routerId}/infer",
    "/router/{routerId}/v1/chat/completions",
    "/proxy/router/{routerId}/v1/messages",
}


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in all_refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in all_refs(value)]
    return []


def resolves(document: dict[str, Any], reference: str) -> bool:
    hash_, components, section, name = reference.split("/", 3)
    assert (hash_, components) == ("#", "components"), reference
    return name in document["components"].get(section, {})


async def test_one_document_of_the_services_that_answer_and_the_inference_routes(
    infrastructure: Infrastructure,
) -> None:
    common = {"NATS_URL": infrastructure.nats_url, "JWT_SECRET": "swagger-test-secret-0123456789ab"}

    def with_database(prefix: str) -> dict[str, str]:
        return {
            **common,
            "DATABASE_URL": infrastructure.database_url,
            "DATABASE_NAME": unique_name(prefix),
        }

    auth_app = create_auth_app(load_settings(AuthSettings, environ=with_database("swauth")))
    router_app = create_router_app(load_settings(RouterSettings, environ=with_database("swrt")))
    async with serve_app(auth_app) as auth_url, serve_app(router_app) as router_url:
        nowhere = f"http://127.0.0.1:{free_port()}"  # catalog, prompts, observability: down
        gateway_app = create_gateway_app(
            load_settings(
                GatewaySettings,
                environ={
                    **common,
                    "AUTH_SERVICE_URL": auth_url,
                    "ROUTER_SERVICE_URL": router_url,
                    "CATALOG_SERVICE_URL": nowhere,
                    "PROMPTS_SERVICE_URL": nowhere,
                    "OBSERVABILITY_SERVICE_URL": nowhere,
                },
            )
        )
        async with (
            serve_app(gateway_app) as gateway_url,
            httpx.AsyncClient(base_url=gateway_url) as client,
        ):
            answer = await client.get("/swagger/openapi.json")
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.headers["x-request-id"]
            merged = answer.json()
            own = {
                "/auth": (await client.get(f"{auth_url}/swagger/openapi.json")).json(),
                "/routers": (await client.get(f"{router_url}/swagger/openapi.json")).json(),
            }

            assert merged["openapi"] == "3.1.0"
            assert merged["info"]["title"] == "hyperstrate gateway"
            for prefix, document in own.items():  # every path of each service, as it has it
                assert document["paths"] and all(p.startswith(prefix) for p in document["paths"])
                for path, item in document["paths"].items():
                    assert merged["paths"][path].keys() == item.keys(), path
            assert merged["paths"].keys() >= INFERENCE_PATHS
            assert "/auth/setup" in merged["paths"] and "/routers/{routerId}" in merged["paths"]
            owners = ("/auth", "/routers", "/v1/", "/router/", "/proxy/router/")
            assert all(path.startswith(owners) for path in merged["paths"])
            references = all_refs(merged)
            assert references and all(resolves(merged, r) for r in references)
            operations = [
                operation
                for item in merged["paths"].values()
                for method, operation in item.items()
                if method in ("get", "post", "put", "patch", "delete")
            ]
            ids = [operation["operationId"] for operation in operations]
            assert len(ids) == len(set(ids))
            schemes = merged["components"]["securitySchemes"]
            assert schemes["BearerAuth"]["scheme"] == "bearer"
            assert schemes["ApiKeyHeader"] == {**schemes["ApiKeyHeader"], "name": "x-api-key"}
            chat = merged["paths"]["/v1/chat/completions"]["post"]
            assert {"401", "403", "404", "429"} <= chat["responses"].keys()
            # The services that are down are named, not a 500.
            unavailable = merged["x-unavailable-services"]
            assert [entry["prefix"] for entry in unavailable] == [
                "/ai",
                "/prompts",
                "/observability",
            ]
            assert all(entry["reason"].startswith("unreachable") for entry in unavailable)

            for path in ("/swagger", "/swagger/"):
                page = await client.get(path)
                assert page.status_code == 200
                assert page.headers["content-type"].startswith("text/html")
                assert (
                    '"/swagger/openapi.json"' in page.text and "swagger-ui-bundle.js" in page.text
                )
            # The gateway's own Litestar document (of its Litestar routes only) is out of reach.
            assert (await client.get("/swagger/openapi.yaml")).status_code == 404
            assert (await client.post("/swagger/openapi.json")).status_code == 405


async def test_the_document_is_cached_and_a_service_that_fails_is_left_out() -> None:
    @get("/auth/ping", operation_id="Ping", sync_to_thread=False)
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    service = create_http_app(
        title="stand-in", route_handlers=[ping], frontend_url="http://127.0.0.1"
    )
    without_openapi = Litestar(route_handlers=[], openapi_config=None)
    async with httpx.AsyncClient() as client:
        async with serve_app(service) as url, serve_app(without_openapi) as broken_url:
            openapi = MergedOpenApi({"/auth": url, "/ai": broken_url}, client)
            encoded = await openapi.encoded()
            document = msgspec.json.decode(encoded)
            assert "/auth/ping" in document["paths"] and "/v1/messages" in document["paths"]
            assert document["x-unavailable-services"] == [
                {"service": "ai", "prefix": "/ai", "reason": "answered HTTP 404"}
            ]
        # Both are gone now: the cached document is still served ...
        assert await openapi.encoded() == encoded
        # ... until it is rebuilt, which leaves them out instead of failing.
        rebuilt = await openapi.build()
        assert not any(path.startswith("/auth") for path in rebuilt["paths"])
        assert {entry["service"] for entry in rebuilt["x-unavailable-services"]} == {"auth", "ai"}
