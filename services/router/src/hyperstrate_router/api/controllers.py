"""Litestar controllers of the router admin API (`/routers`). Thin: validate, call, return."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from hyperstrate_contracts.router import FEATURE_TYPES, INTERCEPTOR_TYPES, STRATEGIES
from hyperstrate_kit.errors import ErrorBody, InvalidInputError
from hyperstrate_kit.http import RESOURCE_ID_PATTERN, Page, PageParams, ResourceId, error_response
from hyperstrate_kit.sessions import Principal, admin_guard
from hyperstrate_router.application import dto
from hyperstrate_router.application.service import RouterAdminService

__all__ = ["ADMIN_CONTROLLERS"]

Routers = NamedDependency[RouterAdminService]
Caller = NamedDependency[Principal]
Paging = NamedDependency[PageParams]

Enabled = Annotated[bool | None, QueryParameter(name="enabled")]


def _one_of(value: str | None, allowed: tuple[str, ...], field: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidInputError(
            f"invalid {field}", {field: [f"must be one of {', '.join(allowed)}"]}
        )


def _unreadable_body(_: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[ErrorBody]:
    # msgspec raises this (not a DecodeError) for a body that is not UTF-8: the client's fault.
    return error_response(400, "the request body is not valid UTF-8 JSON", {"body": [str(exc)]})


class AdminController(Controller):
    """Base of the router admin controllers: admin session required, house error mapping."""

    tags = ["hyperstrate", "routers"]
    guards = [admin_guard]
    exception_handlers = {UnicodeDecodeError: _unreadable_body}


class RouterController(AdminController):
    path = "/routers"

    @get(operation_id="ListRouters", summary="List routers")
    async def list_all(
        self,
        routers: Routers,
        principal: Caller,
        page_params: Paging,
        strategy: Annotated[str | None, QueryParameter(max_length=100)] = None,
        enabled: Enabled = None,
    ) -> Page[dto.RouterView]:
        _one_of(strategy, STRATEGIES, "strategy")
        items, total = await routers.list_routers(principal, page_params, strategy, enabled)
        return Page.of(items, page_params, total)

    @post(operation_id="CreateRouter", summary="Create a router")
    async def create(
        self, routers: Routers, principal: Caller, data: JSONBody[dto.RouterCreate]
    ) -> dto.RouterView:
        return await routers.create_router(principal, data)

    @get(
        "/{router_id:str}",
        operation_id="GetRouter",
        summary="Get a router with its targets, features, interceptors and configuration",
    )
    async def get(
        self, routers: Routers, principal: Caller, router_id: ResourceId
    ) -> dto.RouterDetail:
        return await routers.get_router(principal, router_id)

    @patch("/{router_id:str}", operation_id="UpdateRouter", summary="Update a router")
    async def update(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        data: JSONBody[dto.RouterUpdate],
    ) -> dto.RouterView:
        return await routers.update_router(principal, router_id, data)

    @delete(
        "/{router_id:str}",
        operation_id="DeleteRouter",
        summary="Delete a router and everything it owns",
    )
    async def remove(self, routers: Routers, principal: Caller, router_id: ResourceId) -> None:
        await routers.delete_router(principal, router_id)


class TargetController(AdminController):
    path = "/routers/{router_id:str}/targets"

    @get(operation_id="ListRouterTargets", summary="List a router's targets by priority")
    async def list_all(
        self,
        routers: Routers,
        principal: Caller,
        page_params: Paging,
        router_id: ResourceId,
        registration_id: Annotated[
            str | None,
            QueryParameter(name="registrationId", max_length=100, pattern=RESOURCE_ID_PATTERN),
        ] = None,
        enabled: Enabled = None,
    ) -> Page[dto.TargetView]:
        items, total = await routers.list_targets(
            principal, router_id, page_params, registration_id, enabled
        )
        return Page.of(items, page_params, total)

    @post(operation_id="AddRouterTarget", summary="Add a model registration as a target")
    async def create(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        data: JSONBody[dto.TargetCreate],
    ) -> dto.TargetView:
        return await routers.add_target(principal, router_id, data)

    @get("/{target_id:str}", operation_id="GetRouterTarget", summary="Get a target")
    async def get(
        self, routers: Routers, principal: Caller, router_id: ResourceId, target_id: ResourceId
    ) -> dto.TargetView:
        return await routers.get_target(principal, router_id, target_id)

    @patch("/{target_id:str}", operation_id="UpdateRouterTarget", summary="Update a target")
    async def update(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        target_id: ResourceId,
        data: JSONBody[dto.TargetUpdate],
    ) -> dto.TargetView:
        return await routers.update_target(principal, router_id, target_id, data)

    @delete("/{target_id:str}", operation_id="RemoveRouterTarget", summary="Remove a target")
    async def remove(
        self, routers: Routers, principal: Caller, router_id: ResourceId, target_id: ResourceId
    ) -> None:
        await routers.remove_target(principal, router_id, target_id)


class FeatureController(AdminController):
    path = "/routers/{router_id:str}/features"

    @get(operation_id="ListRouterFeatures", summary="List a router's features")
    async def list_all(
        self,
        routers: Routers,
        principal: Caller,
        page_params: Paging,
        router_id: ResourceId,
        enabled: Enabled = None,
    ) -> Page[dto.FeatureView]:
        items, total = await routers.list_features(principal, router_id, page_params, enabled)
        return Page.of(items, page_params, total)

    @post(
        operation_id="AddRouterFeature",
        summary="Add a feature of a type the router does not have yet",
    )
    async def create(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        data: JSONBody[dto.FeatureCreate],
    ) -> dto.FeatureView:
        return await routers.add_feature(principal, router_id, data)

    @get("/{feature_type:str}", operation_id="GetRouterFeature", summary="Get a feature by type")
    async def get(
        self, routers: Routers, principal: Caller, router_id: ResourceId, feature_type: ResourceId
    ) -> dto.FeatureView:
        _one_of(feature_type, FEATURE_TYPES, "featureType")
        return await routers.get_feature(principal, router_id, feature_type)

    @put(
        "/{feature_type:str}",
        operation_id="SetRouterFeature",
        summary="Create or replace the feature of a type",
        status_code=HTTP_200_OK,
    )
    async def set(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        feature_type: ResourceId,
        data: JSONBody[dto.FeatureSet],
    ) -> dto.FeatureView:
        _one_of(feature_type, FEATURE_TYPES, "featureType")
        return await routers.set_feature(principal, router_id, feature_type, data)

    @delete("/{feature_type:str}", operation_id="RemoveRouterFeature", summary="Remove a feature")
    async def remove(
        self, routers: Routers, principal: Caller, router_id: ResourceId, feature_type: ResourceId
    ) -> None:
        _one_of(feature_type, FEATURE_TYPES, "featureType")
        await routers.remove_feature(principal, router_id, feature_type)


class InterceptorController(AdminController):
    path = "/routers/{router_id:str}/interceptors"

    @get(operation_id="ListRouterInterceptors", summary="List a router's interceptors in order")
    async def list_all(
        self,
        routers: Routers,
        principal: Caller,
        page_params: Paging,
        router_id: ResourceId,
        interceptor_type: Annotated[str | None, QueryParameter(name="type", max_length=100)] = None,
        enabled: Enabled = None,
    ) -> Page[dto.InterceptorView]:
        _one_of(interceptor_type, INTERCEPTOR_TYPES, "type")
        items, total = await routers.list_interceptors(
            principal, router_id, page_params, interceptor_type, enabled
        )
        return Page.of(items, page_params, total)

    @post(operation_id="AddRouterInterceptor", summary="Add an interceptor")
    async def create(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        data: JSONBody[dto.InterceptorCreate],
    ) -> dto.InterceptorView:
        return await routers.add_interceptor(principal, router_id, data)

    @get("/{interceptor_id:str}", operation_id="GetRouterInterceptor", summary="Get an interceptor")
    async def get(
        self, routers: Routers, principal: Caller, router_id: ResourceId, interceptor_id: ResourceId
    ) -> dto.InterceptorView:
        return await routers.get_interceptor(principal, router_id, interceptor_id)

    @patch(
        "/{interceptor_id:str}",
        operation_id="UpdateRouterInterceptor",
        summary="Update an interceptor",
    )
    async def update(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        interceptor_id: ResourceId,
        data: JSONBody[dto.InterceptorUpdate],
    ) -> dto.InterceptorView:
        return await routers.update_interceptor(principal, router_id, interceptor_id, data)

    @delete(
        "/{interceptor_id:str}",
        operation_id="RemoveRouterInterceptor",
        summary="Remove an interceptor",
    )
    async def remove(
        self, routers: Routers, principal: Caller, router_id: ResourceId, interceptor_id: ResourceId
    ) -> None:
        await routers.remove_interceptor(principal, router_id, interceptor_id)


class ConfigurationController(AdminController):
    path = "/routers/{router_id:str}/configuration"

    @get(operation_id="GetRouterConfiguration", summary="Get a router's configuration")
    async def get(
        self, routers: Routers, principal: Caller, router_id: ResourceId
    ) -> dto.ConfigurationView:
        return await routers.get_configuration(principal, router_id)

    @put(
        operation_id="ConfigureRouter",
        summary="Set a router's webhook, linked prompt and payload storage",
        status_code=HTTP_200_OK,
    )
    async def set(
        self,
        routers: Routers,
        principal: Caller,
        router_id: ResourceId,
        data: JSONBody[dto.ConfigurationSet],
    ) -> dto.ConfigurationView:
        return await routers.configure(principal, router_id, data)


ADMIN_CONTROLLERS = [
    RouterController,
    TargetController,
    FeatureController,
    InterceptorController,
    ConfigurationController,
]
