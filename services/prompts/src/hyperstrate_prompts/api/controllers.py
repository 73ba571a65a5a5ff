"""Litestar controllers of the prompts admin API (`/prompts`). Thin: validate, call, return."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter, QueryParameter
from litestar.status_codes import HTTP_200_OK

from hyperstrate_kit.http import Page, PageParams, ResourceId
from hyperstrate_kit.sessions import Principal, admin_guard
from hyperstrate_prompts.application import dto
from hyperstrate_prompts.application.service import PromptsService

__all__ = ["CONTROLLERS"]

Prompts = NamedDependency[PromptsService]
Caller = NamedDependency[Principal]
Paging = NamedDependency[PageParams]
VersionNumber = Annotated[int, Parameter(ge=1, le=2_147_483_647)]


class PromptController(Controller):
    path = "/prompts"
    tags = ["hyperstrate", "prompts"]
    guards = [admin_guard]

    @get(operation_id="ListPrompts", summary="List prompts")
    async def list_all(
        self,
        prompts: Prompts,
        principal: Caller,
        page_params: Paging,
        search: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> Page[dto.PromptView]:
        items, total = await prompts.list_prompts(principal, page_params, search)
        return Page.of(items, page_params, total)

    @post(operation_id="CreatePrompt", summary="Create a prompt (version 1)")
    async def create(
        self, prompts: Prompts, principal: Caller, data: JSONBody[dto.PromptCreate]
    ) -> dto.PromptView:
        return await prompts.create(principal, data)

    @get("/{prompt_id:str}", operation_id="GetPrompt", summary="Get a prompt")
    async def get_one(
        self, prompts: Prompts, principal: Caller, prompt_id: ResourceId
    ) -> dto.PromptView:
        return await prompts.get(principal, prompt_id)

    @patch("/{prompt_id:str}", operation_id="UpdatePrompt", summary="Save a prompt (a new version)")
    async def update(
        self,
        prompts: Prompts,
        principal: Caller,
        prompt_id: ResourceId,
        data: JSONBody[dto.PromptUpdate],
    ) -> dto.PromptView:
        return await prompts.update(principal, prompt_id, data)

    @delete("/{prompt_id:str}", operation_id="DeletePrompt", summary="Delete a prompt")
    async def remove(self, prompts: Prompts, principal: Caller, prompt_id: ResourceId) -> None:
        await prompts.delete(principal, prompt_id)

    @get(
        "/{prompt_id:str}/versions",
        operation_id="ListPromptVersions",
        summary="A prompt's version history, newest first",
    )
    async def versions(
        self, prompts: Prompts, principal: Caller, prompt_id: ResourceId, page_params: Paging
    ) -> Page[dto.PromptVersionView]:
        items, total = await prompts.versions(principal, prompt_id, page_params)
        return Page.of(items, page_params, total)

    @get(
        "/{prompt_id:str}/versions/{version:int}",
        operation_id="GetPromptVersion",
        summary="One version of a prompt",
    )
    async def version(
        self, prompts: Prompts, principal: Caller, prompt_id: ResourceId, version: VersionNumber
    ) -> dto.PromptVersionView:
        return await prompts.version(principal, prompt_id, version)

    @post(
        "/{prompt_id:str}/versions/{version:int}/restore",
        operation_id="RestorePromptVersion",
        summary="Restore an old version (as a new version)",
        status_code=HTTP_200_OK,
    )
    async def restore(
        self, prompts: Prompts, principal: Caller, prompt_id: ResourceId, version: VersionNumber
    ) -> dto.PromptView:
        return await prompts.restore(principal, prompt_id, version)

    @post(
        "/{prompt_id:str}/render",
        operation_id="RenderPrompt",
        summary="Fill in a prompt's variables (a missing one is a 400 naming it)",
        status_code=HTTP_200_OK,
    )
    async def render(
        self,
        prompts: Prompts,
        principal: Caller,
        prompt_id: ResourceId,
        data: JSONBody[dto.RenderInput],
    ) -> dto.RenderedPrompt:
        return await prompts.render(principal, prompt_id, data)


CONTROLLERS = [PromptController]
