"""Ports of the catalog application layer; infrastructure implements them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hyperstrate_contracts.catalog import JobToRun, McpTransport
from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_providers import CompletionResult, CompletionStream, ProviderConfig, WireObject
from hyperstrate_providers.openai_types import ChatCompletionRequest

__all__ = [
    "BaseUrlCheck",
    "CallbackFailed",
    "CallbackSender",
    "InferenceEvents",
    "JobQueue",
    "McpProbe",
    "McpTool",
    "McpUnreachable",
    "SecretVault",
    "Upstream",
]


class SecretVault(Protocol):
    """Encrypts secrets at rest. `context` binds a sealed value to its owner (a row id), so
    it cannot be copied to another row and opened there."""

    def seal(self, plaintext: str, *, context: str) -> str:
        """The sealed (encrypted) form of `plaintext`."""
        ...

    def open(self, sealed: str, *, context: str) -> str:
        """The plaintext of a value sealed with the same `context`."""
        ...


class BaseUrlCheck(Protocol):
    """The outbound rule for registrations' base URLs, applied before each call."""

    async def refusal(self, base_url: str | None) -> str | None:
        """Why `base_url` may not be called now ("base URL refused: ..."), or None (also for
        None: the provider's own endpoint)."""
        ...


class Upstream(Protocol):
    """Calls a provider (raises `hyperstrate_providers.ProviderError` on any failure)."""

    async def complete(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> CompletionResult:
        """One whole completion."""
        ...

    async def open_stream(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> CompletionStream:
        """A streaming completion, once the upstream has accepted it."""
        ...


class InferenceEvents(Protocol):
    """Publishes `inference.*` events off the caller's critical path, never losing one."""

    def emit(self, event: InferenceCompleted | InferenceFailed) -> None:
        """Queue `event` for publishing; returns at once."""
        ...


class JobQueue(Protocol):
    """The JOBS work queue."""

    async def enqueue(self, job: JobToRun) -> None:
        """Hand a job to the workers (idempotent per job id); raises if it cannot."""
        ...


class CallbackFailed(Exception):
    """A callback delivery attempt failed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


class CallbackSender(Protocol):
    """Delivers one signed callback over HTTP to a user-supplied (guarded) URL."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST `body`; returns the 2xx status, raises `CallbackFailed` otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class McpTool:
    """A tool an MCP server offers."""

    name: str
    description: str | None
    input_schema: dict[str, Any]


class McpUnreachable(Exception):
    """The MCP server could not be reached or did not answer as one (message safe to show)."""


class McpProbe(Protocol):
    """Connects to an MCP server and lists its tools."""

    async def list_tools(
        self, url: str, transport: McpTransport, headers: dict[str, str]
    ) -> list[McpTool]:
        """The server's tools; raises `McpUnreachable` when it cannot tell."""
        ...
