"""Litestar controllers of the catalog API (`/ai`). Thin: validate, call, return."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from hyperstrate_catalog.api.security import (
    caller_of,
    check_outbound_url,
    header_safe,
    header_safe_headers,
    infer_guard,
)
from hyperstrate_catalog.application import dto
from hyperstrate_catalog.application.common import Caller
from hyperstrate_catalog.application.conversations import ConversationService
from hyperstrate_catalog.application.inference import InferenceService
from hyperstrate_catalog.application.jobs import JobService
from hyperstrate_catalog.application.mcp import McpServerService
from hyperstrate_catalog.application.registrations import RegistrationService
from hyperstrate_contracts.catalog import JobStatus
from hyperstrate_kit.http import Page, PageParams, ResourceId
from hyperstrate_kit.security import OutboundUrlGuard
from hyperstrate_kit.sessions import Principal, admin_guard, session_guard

__all__ = ["CONTROLLERS"]

Registrations = NamedDependency[RegistrationService]
Inference = NamedDependency[InferenceService]
Jobs = NamedDependency[JobService]
Conversations = NamedDependency[ConversationService]
McpServers = NamedDependency[McpServerService]
UrlGuard = NamedDependency[OutboundUrlGuard]
Caller_ = NamedDependency[Caller]
Admin = NamedDependency[Principal]
Paging = NamedDependency[PageParams]
Filter = Annotated[str | None, Parameter(max_length=100)]

_CALLER = {"caller": Provide(caller_of, sync_to_thread=False)}


class CatalogController(Controller):
    path = "/ai/catalog"
    tags = ["hyperstrate", "catalog"]
    guards = [session_guard]

    @get(operation_id="ListCatalogModels", summary="List the supported models")
    async def list_all(
        self, registrations: Registrations, page_params: Paging, provider: Filter = None
    ) -> Page[dto.CatalogModelView]:
        items, total = registrations.catalog(page_params, provider)
        return Page.of(items, page_params, total)


class RegistrationController(Controller):
    path = "/ai/registrations"
    tags = ["hyperstrate", "models"]
    guards = [admin_guard]

    @get(operation_id="ListRegistrations", summary="List model registrations")
    async def list_all(
        self, registrations: Registrations, principal: Admin, page_params: Paging
    ) -> Page[dto.RegistrationView]:
        items, total = await registrations.list_page(principal, page_params)
        return Page.of(items, page_params, total)

    @post(operation_id="CreateRegistration", summary="Register a catalog model")
    async def create(
        self,
        registrations: Registrations,
        url_guard: UrlGuard,
        principal: Admin,
        data: JSONBody[dto.RegistrationCreate],
    ) -> dto.RegistrationView:
        check_outbound_url(url_guard, "baseUrl", data.base_url)
        return await registrations.create(principal, header_safe(data, "api_key", "apiKey"))

    @get("/{registration_id:str}", operation_id="GetRegistration", summary="Get a registration")
    async def show(
        self, registrations: Registrations, principal: Admin, registration_id: ResourceId
    ) -> dto.RegistrationView:
        return await registrations.get(principal.org_id, registration_id)

    @patch(
        "/{registration_id:str}", operation_id="UpdateRegistration", summary="Update a registration"
    )
    async def update(
        self,
        registrations: Registrations,
        url_guard: UrlGuard,
        principal: Admin,
        registration_id: ResourceId,
        data: JSONBody[dto.RegistrationUpdate],
    ) -> dto.RegistrationView:
        if isinstance(data.base_url, str):
            check_outbound_url(url_guard, "baseUrl", data.base_url)
        data = header_safe(data, "api_key", "apiKey")
        return await registrations.update(principal, registration_id, data)

    @delete(
        "/{registration_id:str}", operation_id="DeleteRegistration", summary="Delete a registration"
    )
    async def remove(
        self, registrations: Registrations, principal: Admin, registration_id: ResourceId
    ) -> None:
        await registrations.delete(principal, registration_id)


class InferenceController(Controller):
    path = "/ai/infer"
    tags = ["hyperstrate", "models"]
    guards = [infer_guard]
    dependencies = _CALLER

    @post(
        operation_id="RunInference",
        summary="Run a registration once (streamed as server-sent events with stream=true)",
        status_code=HTTP_200_OK,
    )
    async def infer(
        self, inference: Inference, caller: Caller_, data: JSONBody[dto.InferInput]
    ) -> Response[Any]:
        if data.stream:
            events = await inference.infer_stream(caller, data)
            return Stream(
                events,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return Response(await inference.infer(caller, data))


class JobController(Controller):
    """Jobs belong to who submitted them: a key sees its own, an admin session all."""

    path = "/ai/jobs"
    tags = ["hyperstrate", "jobs"]
    guards = [infer_guard]
    dependencies = _CALLER

    @post(
        operation_id="SubmitJob",
        summary="Submit an async inference job",
        status_code=HTTP_202_ACCEPTED,
    )
    async def submit(
        self, jobs: Jobs, url_guard: UrlGuard, caller: Caller_, data: JSONBody[dto.JobSubmit]
    ) -> dto.JobAccepted:
        check_outbound_url(url_guard, "callbackUrl", data.callback_url)
        return await jobs.submit(caller, data)

    @get(operation_id="ListJobs", summary="List jobs")
    async def list_all(
        self,
        jobs: Jobs,
        caller: Caller_,
        page_params: Paging,
        status: Annotated[JobStatus | None, Parameter()] = None,
    ) -> Page[dto.JobView]:
        items, total = await jobs.list_page(caller, page_params, status)
        return Page.of(items, page_params, total)

    @get("/{job_id:str}", operation_id="GetJob", summary="Get a job's status and result")
    async def show(self, jobs: Jobs, caller: Caller_, job_id: ResourceId) -> dto.JobView:
        return await jobs.get(caller, job_id)


class ConversationController(Controller):
    """Conversations belong to who created them: a key sees its own, an admin session all."""

    path = "/ai/conversations"
    tags = ["hyperstrate", "conversations"]
    guards = [infer_guard]
    dependencies = _CALLER

    @get(operation_id="ListConversations", summary="List conversations")
    async def list_all(
        self, conversations: Conversations, caller: Caller_, page_params: Paging
    ) -> Page[dto.ConversationView]:
        items, total = await conversations.list_page(caller, page_params)
        return Page.of(items, page_params, total)

    @post(operation_id="CreateConversation", summary="Create a conversation")
    async def create(
        self,
        conversations: Conversations,
        caller: Caller_,
        data: JSONBody[dto.ConversationCreate],
    ) -> dto.ConversationView:
        return await conversations.create(caller, data)

    @get("/{conversation_id:str}", operation_id="GetConversation", summary="Get a conversation")
    async def show(
        self, conversations: Conversations, caller: Caller_, conversation_id: ResourceId
    ) -> dto.ConversationView:
        return await conversations.get(caller, conversation_id)

    @patch(
        "/{conversation_id:str}",
        operation_id="UpdateConversation",
        summary="Update a conversation",
    )
    async def update(
        self,
        conversations: Conversations,
        caller: Caller_,
        conversation_id: ResourceId,
        data: JSONBody[dto.ConversationUpdate],
    ) -> dto.ConversationView:
        return await conversations.update(caller, conversation_id, data)

    @delete(
        "/{conversation_id:str}",
        operation_id="DeleteConversation",
        summary="Delete a conversation and its messages",
    )
    async def remove(
        self, conversations: Conversations, caller: Caller_, conversation_id: ResourceId
    ) -> None:
        await conversations.delete(caller, conversation_id)

    @get(
        "/{conversation_id:str}/messages",
        operation_id="ListConversationMessages",
        summary="List a conversation's messages",
    )
    async def messages(
        self,
        conversations: Conversations,
        caller: Caller_,
        conversation_id: ResourceId,
        page_params: Paging,
    ) -> Page[dto.MessageView]:
        items, total = await conversations.messages(caller, conversation_id, page_params)
        return Page.of(items, page_params, total)

    @post(
        "/{conversation_id:str}/messages",
        operation_id="AddConversationMessage",
        summary="Append a message to a conversation",
    )
    async def add_message(
        self,
        conversations: Conversations,
        caller: Caller_,
        conversation_id: ResourceId,
        data: JSONBody[dto.MessageCreate],
    ) -> dto.MessageView:
        return await conversations.add_message(caller, conversation_id, data)

    @post(
        "/{conversation_id:str}/send",
        operation_id="SendConversation",
        summary="Send the conversation to a registration and append the reply",
        status_code=HTTP_200_OK,
    )
    async def send(
        self,
        conversations: Conversations,
        caller: Caller_,
        conversation_id: ResourceId,
        data: JSONBody[dto.ConversationSend],
    ) -> dto.SendResult:
        return await conversations.send(caller, conversation_id, data)


class McpServerController(Controller):
    path = "/ai/mcp/servers"
    tags = ["hyperstrate", "models"]
    guards = [admin_guard]

    @get(operation_id="ListMCPServers", summary="List MCP servers")
    async def list_all(
        self, mcp_servers: McpServers, principal: Admin, page_params: Paging
    ) -> Page[dto.McpServerView]:
        items, total = await mcp_servers.list_page(principal.org_id, page_params)
        return Page.of(items, page_params, total)

    @post(operation_id="CreateMCPServer", summary="Register an MCP server")
    async def create(
        self,
        mcp_servers: McpServers,
        url_guard: UrlGuard,
        principal: Admin,
        data: JSONBody[dto.McpServerCreate],
    ) -> dto.McpServerView:
        check_outbound_url(url_guard, "url", data.url)
        return await mcp_servers.create(principal.org_id, header_safe_headers(data))

    @get("/{server_id:str}", operation_id="GetMCPServer", summary="Get an MCP server")
    async def show(
        self, mcp_servers: McpServers, principal: Admin, server_id: ResourceId
    ) -> dto.McpServerView:
        return await mcp_servers.get(principal.org_id, server_id)

    @patch("/{server_id:str}", operation_id="UpdateMCPServer", summary="Update an MCP server")
    async def update(
        self,
        mcp_servers: McpServers,
        url_guard: UrlGuard,
        principal: Admin,
        server_id: ResourceId,
        data: JSONBody[dto.McpServerUpdate],
    ) -> dto.McpServerView:
        if data.url is not msgspec.UNSET:
            check_outbound_url(url_guard, "url", data.url)
        return await mcp_servers.update(principal.org_id, server_id, header_safe_headers(data))

    @post(
        "/{server_id:str}/check",
        operation_id="CheckMCPServer",
        summary="Connect to an MCP server and list its tools",
        status_code=HTTP_200_OK,
    )
    async def check(
        self, mcp_servers: McpServers, principal: Admin, server_id: ResourceId
    ) -> dto.McpCheckResult:
        return await mcp_servers.check(principal.org_id, server_id)

    @delete("/{server_id:str}", operation_id="DeleteMCPServer", summary="Delete an MCP server")
    async def remove(
        self, mcp_servers: McpServers, principal: Admin, server_id: ResourceId
    ) -> None:
        await mcp_servers.delete(principal.org_id, server_id)


CONTROLLERS: list[type[Controller]] = [
    CatalogController,
    RegistrationController,
    InferenceController,
    JobController,
    ConversationController,
    McpServerController,
]
