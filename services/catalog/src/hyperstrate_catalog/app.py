"""Composition root of the catalog API service (the worker's is `worker.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Litestar

from hyperstrate_catalog.api.controllers import CONTROLLERS
from hyperstrate_catalog.application.jobs import JobService
from hyperstrate_catalog.application.mcp import McpServerService
from hyperstrate_catalog.application.registrations import RegistrationService
from hyperstrate_catalog.domain.model import BaseUrlRefused
from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_catalog.wiring import (
    CATALOG_MIGRATIONS,
    build_services,
    catalog_event_registry,
    projections,
)
from hyperstrate_contracts.catalog import (
    BASE_URL_REFUSED,
    CREDENTIALS_SUBJECT,
    MCP_CREDENTIALS_SUBJECT,
    REGISTRATIONS_SUBJECT,
    CredentialsRequest,
    McpServerCredentialsRequest,
    RegistrationList,
    RegistrationsRequest,
)
from hyperstrate_kit.bus import RemoteError, serve
from hyperstrate_kit.errors import NotFoundError
from hyperstrate_kit.keys import KeyAccess
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app

__all__ = ["create_app", "definition"]

R = TypeVar("R", bound=msgspec.Struct)
Q = TypeVar("Q", bound=msgspec.Struct)


def _answer(
    handler: Callable[[Q], Awaitable[R]],
) -> Callable[[Q], Awaitable[R]]:
    """A request handler whose not-found answers as the `not_found` error reply, and a
    refused base URL as `base_url_refused`."""

    async def answer(request: Q) -> R:
        try:
            return await handler(request)
        except NotFoundError as exc:
            raise RemoteError("not_found", exc.message) from None
        except BaseUrlRefused as exc:
            raise RemoteError(BASE_URL_REFUSED, exc.message) from None

    return answer


async def _start(runtime: Runtime[CatalogSettings]) -> None:
    services = build_services(runtime)
    runtime.services.update(services)
    registrations: RegistrationService = services["registrations"]
    mcp_servers: McpServerService = services["mcp_servers"]
    jobs: JobService = services["jobs"]
    sweep_seconds = runtime.settings.job_dispatch_sweep_seconds
    runtime.spawn(lambda: jobs.sweep_forever(sweep_seconds), "job-dispatch-sweeper")

    directory = runtime.sessions.directory  # the kit's projection of AUTH: keys and users
    runtime.services["keys"] = directory
    runtime.services["key_access"] = KeyAccess(directory)

    async def credentials(request: CredentialsRequest) -> Any:
        return await registrations.callable_credentials(request.org_id, request.registration_id)

    async def registration_list(request: RegistrationsRequest) -> Any:
        return RegistrationList(items=await registrations.infos(request.org_id, request.ids))

    async def mcp_credentials(request: McpServerCredentialsRequest) -> Any:
        return await mcp_servers.credentials(request.org_id, request.server_id)

    assert runtime.nc is not None
    nc = runtime.nc
    await serve(nc, CREDENTIALS_SUBJECT, CredentialsRequest, _answer(credentials), queue="catalog")
    await serve(
        nc,
        REGISTRATIONS_SUBJECT,
        RegistrationsRequest,
        _answer(registration_list),
        queue="catalog",
    )
    await serve(
        nc,
        MCP_CREDENTIALS_SUBJECT,
        McpServerCredentialsRequest,
        _answer(mcp_credentials),
        queue="catalog",
    )


def _routes(runtime: Runtime[CatalogSettings]) -> list[Any]:
    return [*CONTROLLERS]


definition: ServiceDefinition[CatalogSettings] = ServiceDefinition(
    name="catalog",
    settings_type=CatalogSettings,
    migrations=[CATALOG_MIGRATIONS],
    registry=catalog_event_registry(),
    projections=projections,
    route_handlers=_routes,
    on_start=[_start],
    provides=["registrations", "inference", "jobs", "conversations", "mcp_servers", "url_guard"],
)


def create_app(settings: CatalogSettings) -> Litestar:
    """The catalog service's ASGI app."""
    app: Litestar = create_service_app(definition, settings)
    return app
