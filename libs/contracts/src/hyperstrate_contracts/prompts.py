"""PROMPTS stream events: named, versioned `{{variable}}` templates.

Every save is a new immutable version, so each event that creates a version carries the
prompt's whole state (name, text, variables, version number): a consumer such as the
router's in-memory projection keeps only the latest event per prompt and needs nothing else.
`aggregate_id` is the prompt id. Who made the change travels in the event's headers
(`Hs-Actor-Kind`, `Hs-Actor-Id`); `actor_id` is set only on events recorded before that.
"""

from __future__ import annotations

from hyperstrate_contracts.events import Event, EventRegistry

__all__ = [
    "PROMPT_EVENTS",
    "PromptCreated",
    "PromptDeleted",
    "PromptRestored",
    "PromptUpdated",
    "prompts_registry",
]


class _PromptVersionSaved(Event, frozen=True, kw_only=True):
    """A new version of the prompt: its full state after the save."""

    name: str
    description: str = ""
    text: str
    variables: tuple[str, ...] = ()  # the placeholder names of `text`, in order
    version_number: int  # 1 for the first save, then +1 per save
    actor_id: str | None = None


class PromptCreated(_PromptVersionSaved, frozen=True, kw_only=True, tag="prompts.prompt.created"):
    """A prompt created: version 1."""


class PromptUpdated(_PromptVersionSaved, frozen=True, kw_only=True, tag="prompts.prompt.updated"):
    """A prompt saved again: a new version."""


class PromptRestored(_PromptVersionSaved, frozen=True, kw_only=True, tag="prompts.prompt.restored"):
    """An old version copied into a new one; `restored_from` is the old version number."""

    restored_from: int


class PromptDeleted(Event, frozen=True, kw_only=True, tag="prompts.prompt.deleted"):
    """A prompt and its history removed from use; routers linked to it lose their prompt."""

    actor_id: str | None = None


PROMPT_EVENTS: tuple[type[Event], ...] = (
    PromptCreated,
    PromptUpdated,
    PromptRestored,
    PromptDeleted,
)


def prompts_registry() -> EventRegistry:
    """A registry of every PROMPTS event."""
    return EventRegistry(PROMPT_EVENTS)
