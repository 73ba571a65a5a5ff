"""Aggregates, value objects, domain events and errors: pure Python, no I/O."""

from hyperstrate_prompts.domain.model import (
    PromptNameTaken,
    PromptNotFound,
    VersionNotFound,
    new_prompt_id,
    render,
    stream_id,
    variables_of,
)

__all__ = [
    "PromptNameTaken",
    "PromptNotFound",
    "VersionNotFound",
    "new_prompt_id",
    "render",
    "stream_id",
    "variables_of",
]
