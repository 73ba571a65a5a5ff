"""Prompt rules, identifiers and errors. Pure Python, no I/O."""

from __future__ import annotations

import uuid

from hyperstrate_kit.errors import ConflictError, InvalidInputError, NotFoundError
from hyperstrate_kit.templates import MissingVariablesError, extract_variables, interpolate

__all__ = [
    "PromptNameTaken",
    "PromptNotFound",
    "VersionNotFound",
    "new_prompt_id",
    "render",
    "stream_id",
    "variables_of",
]


class PromptNotFound(NotFoundError):
    """Absent, deleted, or another organisation's."""

    default_message = "prompt not found"


class VersionNotFound(NotFoundError):
    """The prompt has no such version."""

    default_message = "prompt version not found"


class PromptNameTaken(ConflictError):
    """Another prompt of the organisation has this name."""

    default_message = "a prompt with this name already exists"


def new_prompt_id() -> str:
    """A new prompt id (`prompt_…`)."""
    return f"prompt_{uuid.uuid4().hex}"


def stream_id(prompt_id: str) -> str:
    """The event stream of one prompt."""
    return f"prompt-{prompt_id}"


def variables_of(text: str) -> tuple[str, ...]:
    """The placeholders a template needs, extracted on every save."""
    return tuple(extract_variables(text))


def render(text: str, values: dict[str, object]) -> str:
    """The template with its variables filled in; a missing one is a 400 naming it."""
    try:
        return interpolate(text, values)
    except MissingVariablesError as exc:
        raise InvalidInputError(
            str(exc), {f"variables.{name}": ["required by the prompt"] for name in exc.names}
        ) from exc
