"""Litestar controllers of the auth admin API (`/auth`). Thin: validate, call, return."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_302_FOUND

from hyperstrate_auth.api.client_address import client_address
from hyperstrate_auth.application import dto
from hyperstrate_auth.application.oidc import OidcLoginService
from hyperstrate_auth.application.service import AuthService
from hyperstrate_auth.domain.model import OperatorOnly
from hyperstrate_kit.errors import ErrorBody, UnauthorizedError
from hyperstrate_kit.http import Page, PageParams, ResourceId
from hyperstrate_kit.openapi import error_responses
from hyperstrate_kit.sessions import Principal, admin_guard, session_guard

__all__ = ["CONTROLLERS"]

Auth = NamedDependency[AuthService]
Caller = NamedDependency[Principal]
Paging = NamedDependency[PageParams]
#: On every answer that carries a token or a key: no cache or proxy may keep a copy.
NO_STORE = CacheControlHeader(no_store=True)
THROTTLED = ResponseSpec(
    data_container=ErrorBody,
    description="Too many failed logins for the account or the address; see Retry-After",
)


class SetupController(Controller):
    path = "/auth/setup"
    tags = ["hyperstrate", "auth"]

    @get("/status", operation_id="GetSetupStatus", summary="Check if initial setup is required")
    async def status(self, auth: Auth) -> dto.SetupStatus:
        return await auth.setup_status()

    @post(
        operation_id="RunSetup",
        summary="Create the first organisation and its admin",
        cache_control=NO_STORE,
    )
    async def setup(self, auth: Auth, data: JSONBody[dto.SetupInput]) -> dto.Session:
        return await auth.setup(data)


class SessionController(Controller):
    path = "/auth"
    tags = ["hyperstrate", "auth"]

    @post(
        "/login",
        operation_id="Login",
        summary="Log in with email and password",
        description=(
            "Failed logins are throttled per account and per client address: after a few, "
            "429 with Retry-After until the back-off (or the lock) ends. E-mails are unique "
            "per organisation: the password chooses the account, `organizationId` narrows it."
        ),
        status_code=HTTP_200_OK,
        responses={**error_responses(401), 429: THROTTLED},
        cache_control=NO_STORE,
    )
    async def login(
        self, request: Request[Any, Any, Any], auth: Auth, data: JSONBody[dto.LoginInput]
    ) -> dto.Session:
        return await auth.login(data, client_address(request))

    @post(
        "/refresh",
        operation_id="RefreshSession",
        summary="Trade a refresh token for a new session",
        description=(
            "Each refresh token is spent once. A spent one presented again ends every "
            "session descending from the same login (the newer token too) and is audited."
        ),
        status_code=HTTP_200_OK,
        responses=error_responses(401),
        cache_control=NO_STORE,
    )
    async def refresh(self, auth: Auth, data: JSONBody[dto.RefreshInput]) -> dto.Session:
        return await auth.refresh(data)

    @post(
        "/logout",
        operation_id="Logout",
        summary="Revoke a refresh token",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def logout(self, auth: Auth, data: JSONBody[dto.RefreshInput]) -> None:
        await auth.logout(data)


class ProfileController(Controller):
    path = "/auth/me"
    tags = ["hyperstrate", "auth"]
    guards = [session_guard]

    # 404 only in the instant a user is deleted: the session guard refuses a deleted user's
    # token as soon as the deletion reaches this service (401).
    @get(
        operation_id="GetProfile",
        summary="The caller's own profile",
        responses=error_responses(404),
    )
    async def me(self, auth: Auth, principal: Caller) -> dto.UserView:
        return await auth.get_user(principal, principal.user_id)

    @patch(operation_id="UpdateProfile", summary="Change the caller's name or password")
    async def update(
        self, auth: Auth, principal: Caller, data: JSONBody[dto.ProfileUpdate]
    ) -> dto.UserView:
        return await auth.update_profile(principal, data)


class OrganizationController(Controller):
    path = "/auth/organizations"
    tags = ["hyperstrate", "auth"]
    guards = [admin_guard]

    @get(operation_id="ListOrganizations", summary="List organisations")
    async def list_all(
        self, auth: Auth, principal: Caller, page_params: Paging
    ) -> Page[dto.OrganizationView]:
        items, total = await auth.list_organizations(principal, page_params)
        return Page.of(items, page_params, total)

    @post(
        operation_id="CreateOrganization",
        summary="Refused: organisations are created by the operator",
        description=(
            "Always 403: a tenant admin cannot create organisations. The operator runs "
            "`python -m hyperstrate_auth.cli create-org` on the server (the first one comes "
            "from the first-run setup)."
        ),
    )
    async def create(self) -> dto.OrganizationView:
        raise OperatorOnly()

    @get("/{org_id:str}", operation_id="GetOrganization", summary="Get an organisation")
    async def get(self, auth: Auth, principal: Caller, org_id: ResourceId) -> dto.OrganizationView:
        return await auth.get_organization(principal, org_id)

    @patch("/{org_id:str}", operation_id="UpdateOrganization", summary="Update an organisation")
    async def update(
        self,
        auth: Auth,
        principal: Caller,
        org_id: ResourceId,
        data: JSONBody[dto.OrganizationUpdate],
    ) -> dto.OrganizationView:
        return await auth.update_organization(principal, org_id, data)

    @delete("/{org_id:str}", operation_id="DeleteOrganization", summary="Delete an organisation")
    async def remove(self, auth: Auth, principal: Caller, org_id: ResourceId) -> None:
        await auth.delete_organization(principal, org_id)


class UserController(Controller):
    path = "/auth/users"
    tags = ["hyperstrate", "auth"]
    guards = [admin_guard]

    @get(operation_id="ListUsers", summary="List users")
    async def list_all(
        self, auth: Auth, principal: Caller, page_params: Paging
    ) -> Page[dto.UserView]:
        items, total = await auth.list_users(principal, page_params)
        return Page.of(items, page_params, total)

    @post(operation_id="CreateUser", summary="Create a user")
    async def create(
        self, auth: Auth, principal: Caller, data: JSONBody[dto.UserCreate]
    ) -> dto.UserView:
        return await auth.create_user(principal, data)

    @get("/{user_id:str}", operation_id="GetUser", summary="Get a user")
    async def get(self, auth: Auth, principal: Caller, user_id: ResourceId) -> dto.UserView:
        return await auth.get_user(principal, user_id)

    @patch("/{user_id:str}", operation_id="UpdateUser", summary="Update a user")
    async def update(
        self, auth: Auth, principal: Caller, user_id: ResourceId, data: JSONBody[dto.UserUpdate]
    ) -> dto.UserView:
        return await auth.update_user(principal, user_id, data)

    @delete("/{user_id:str}", operation_id="DeleteUser", summary="Delete a user")
    async def remove(self, auth: Auth, principal: Caller, user_id: ResourceId) -> None:
        await auth.delete_user(principal, user_id)


class TeamController(Controller):
    path = "/auth/teams"
    tags = ["hyperstrate", "auth"]
    guards = [admin_guard]

    @get(operation_id="ListTeams", summary="List teams")
    async def list_all(
        self, auth: Auth, principal: Caller, page_params: Paging
    ) -> Page[dto.TeamView]:
        items, total = await auth.list_teams(principal, page_params)
        return Page.of(items, page_params, total)

    @post(operation_id="CreateTeam", summary="Create a team")
    async def create(
        self, auth: Auth, principal: Caller, data: JSONBody[dto.TeamCreate]
    ) -> dto.TeamView:
        return await auth.create_team(principal, data)

    @get("/{team_id:str}", operation_id="GetTeam", summary="Get a team")
    async def get(self, auth: Auth, principal: Caller, team_id: ResourceId) -> dto.TeamView:
        return await auth.get_team(principal, team_id)

    @patch("/{team_id:str}", operation_id="UpdateTeam", summary="Update a team")
    async def update(
        self, auth: Auth, principal: Caller, team_id: ResourceId, data: JSONBody[dto.TeamUpdate]
    ) -> dto.TeamView:
        return await auth.update_team(principal, team_id, data)

    @delete("/{team_id:str}", operation_id="DeleteTeam", summary="Delete a team")
    async def remove(self, auth: Auth, principal: Caller, team_id: ResourceId) -> None:
        await auth.delete_team(principal, team_id)


class ApiKeyController(Controller):
    path = "/auth/api-keys"
    tags = ["hyperstrate", "auth"]
    guards = [admin_guard]

    @get(operation_id="ListAPIKeys", summary="List API keys")
    async def list_all(
        self,
        auth: Auth,
        principal: Caller,
        page_params: Paging,
        router_id: Annotated[str | None, QueryParameter(name="routerId", max_length=100)] = None,
    ) -> Page[dto.ApiKeyView]:
        items, total = await auth.list_api_keys(principal, page_params, router_id)
        return Page.of(items, page_params, total)

    @post(
        operation_id="CreateAPIKey",
        summary="Create an API key (shown once)",
        cache_control=NO_STORE,
    )
    async def create(
        self, auth: Auth, principal: Caller, data: JSONBody[dto.ApiKeyCreate]
    ) -> dto.CreatedApiKey:
        return await auth.create_api_key(principal, data)

    @get("/{key_id:str}", operation_id="GetAPIKey", summary="Get an API key")
    async def get(self, auth: Auth, principal: Caller, key_id: ResourceId) -> dto.ApiKeyView:
        return await auth.get_api_key(principal, key_id)

    @delete("/{key_id:str}", operation_id="RevokeAPIKey", summary="Revoke an API key")
    async def revoke(self, auth: Auth, principal: Caller, key_id: ResourceId) -> None:
        await auth.revoke_api_key(principal, key_id)


class VirtualKeyController(Controller):
    path = "/auth/virtual-keys"
    tags = ["hyperstrate", "auth"]
    guards = [admin_guard]

    @get(operation_id="ListVirtualKeys", summary="List virtual keys")
    async def list_all(
        self,
        auth: Auth,
        principal: Caller,
        page_params: Paging,
        team_id: Annotated[str | None, QueryParameter(name="teamId", max_length=100)] = None,
    ) -> Page[dto.VirtualKeyView]:
        items, total = await auth.list_virtual_keys(principal, page_params, team_id)
        return Page.of(items, page_params, total)

    @post(
        operation_id="CreateVirtualKey",
        summary="Create a virtual key (shown once)",
        cache_control=NO_STORE,
    )
    async def create(
        self, auth: Auth, principal: Caller, data: JSONBody[dto.VirtualKeyCreate]
    ) -> dto.CreatedVirtualKey:
        return await auth.create_virtual_key(principal, data)

    @get("/{key_id:str}", operation_id="GetVirtualKey", summary="Get a virtual key")
    async def get(self, auth: Auth, principal: Caller, key_id: ResourceId) -> dto.VirtualKeyView:
        return await auth.get_virtual_key(principal, key_id)

    @patch("/{key_id:str}", operation_id="UpdateVirtualKey", summary="Update a virtual key")
    async def update(
        self,
        auth: Auth,
        principal: Caller,
        key_id: ResourceId,
        data: JSONBody[dto.VirtualKeyUpdate],
    ) -> dto.VirtualKeyView:
        return await auth.update_virtual_key(principal, key_id, data)

    @delete("/{key_id:str}", operation_id="RevokeVirtualKey", summary="Revoke a virtual key")
    async def revoke(self, auth: Auth, principal: Caller, key_id: ResourceId) -> None:
        await auth.revoke_virtual_key(principal, key_id)


class RouterAccessController(Controller):
    path = "/auth/routers/{router_id:str}/teams"
    tags = ["hyperstrate", "auth"]
    guards = [admin_guard]

    @get(operation_id="ListRouterTeamAccess", summary="Teams a router is restricted to")
    async def list_all(
        self, auth: Auth, principal: Caller, router_id: ResourceId
    ) -> list[dto.RouterAccessView]:
        return await auth.list_router_access(principal, router_id)

    @post(operation_id="GrantRouterTeamAccess", summary="Restrict a router to a team")
    async def grant(
        self,
        auth: Auth,
        principal: Caller,
        router_id: ResourceId,
        data: JSONBody[dto.RouterAccessGrant],
    ) -> list[dto.RouterAccessView]:
        return await auth.grant_router_access(principal, router_id, data)

    @delete(
        "/{team_id:str}", operation_id="RevokeRouterTeamAccess", summary="Remove a team's access"
    )
    async def revoke(
        self, auth: Auth, principal: Caller, router_id: ResourceId, team_id: ResourceId
    ) -> None:
        await auth.revoke_router_access(principal, router_id, team_id)


CONTROLLERS = [
    SetupController,
    SessionController,
    ProfileController,
    OrganizationController,
    UserController,
    TeamController,
    ApiKeyController,
    VirtualKeyController,
    RouterAccessController,
]


class OidcController(Controller):
    path = "/auth/oidc/{provider:str}"
    tags = ["hyperstrate", "auth"]

    @staticmethod
    def _callback_url(request: Request[Any, Any, Any], public_url: str, provider: str) -> str:
        base = public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return f"{base}/auth/oidc/{provider}/callback"

    @get(
        "/login",
        operation_id="StartOidcLogin",
        summary="Redirect to the identity provider",
        status_code=HTTP_302_FOUND,
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        oidc: NamedDependency[OidcLoginService],
        provider: ResourceId,
    ) -> Redirect:
        public_url = request.app.state.get("public_url", "")
        return Redirect(
            await oidc.begin(provider, self._callback_url(request, public_url, provider))
        )

    @get(
        "/callback",
        operation_id="FinishOidcLogin",
        summary="Finish a login through an identity provider (OIDC or OAuth2)",
        status_code=HTTP_302_FOUND,
        responses=error_responses(401, 502),
        cache_control=NO_STORE,  # the redirect carries the session's tokens
    )
    async def callback(
        self,
        request: Request[Any, Any, Any],
        oidc: NamedDependency[OidcLoginService],
        provider: ResourceId,
        code: Annotated[str, QueryParameter(max_length=4096)] = "",
        login_state: Annotated[str, QueryParameter(name="state", max_length=200)] = "",
        error: Annotated[str, QueryParameter(max_length=200)] = "",
    ) -> Redirect:
        if error or not code:
            raise UnauthorizedError("the identity provider did not authorize the login")
        public_url = request.app.state.get("public_url", "")
        return Redirect(
            await oidc.finish(
                provider, code, login_state, self._callback_url(request, public_url, provider)
            )
        )


CONTROLLERS.append(OidcController)
