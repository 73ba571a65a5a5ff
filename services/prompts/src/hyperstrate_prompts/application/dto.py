"""Commands (request bodies) and views (responses) of the prompt use cases, camelCase."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

__all__ = [
    "PromptCreate",
    "PromptUpdate",
    "PromptVersionView",
    "PromptView",
    "RenderInput",
    "RenderedPrompt",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
# Long system prompts are common; a megabyte-sized one is a mistake, not a prompt.
TemplateText = Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
VariableName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
VariableValue = Annotated[str, msgspec.Meta(max_length=100_000)] | int | float | bool


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Base of request bodies: camelCase, unknown fields rejected (typos are named)."""


class View(msgspec.Struct, rename="camel"):
    """Base of responses."""


class PromptCreate(Camel):
    name: Name
    text: TemplateText
    description: Description = ""


class PromptUpdate(Camel):
    """A save: whatever is given changes, and a new version is made either way."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    text: TemplateText | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET


class PromptView(View):
    id: str
    org_id: str
    name: str
    description: str
    text: str
    variables: list[str]
    version: int  # the current version number
    created_at: datetime
    updated_at: datetime


class PromptVersionView(View):
    prompt_id: str
    version: int
    name: str
    description: str
    text: str
    variables: list[str]
    restored_from: int | None
    created_by: str | None
    created_at: datetime


class RenderInput(Camel):
    variables: dict[VariableName, VariableValue] = msgspec.field(default_factory=dict)
    version: Annotated[int, msgspec.Meta(ge=1)] | None = None  # None: the current version


class RenderedPrompt(View):
    prompt_id: str
    version: int
    text: str
