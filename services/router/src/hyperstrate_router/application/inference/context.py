"""What the pipeline's stages share: one request's context, the stage signature, refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from hyperstrate_contracts.catalog import RegistrationInfo
from hyperstrate_contracts.router import InferRequest
from hyperstrate_providers import TokenUsage, WireObject
from hyperstrate_providers.openai_types import ChatCompletionRequest
from hyperstrate_router.application.inference.state import RouterState, Target

__all__ = ["InferenceContext", "Proceed", "Refusal", "SendFrame", "Stage"]

SendFrame = Callable[[bytes], Awaitable[None]]
Proceed = Callable[[], Awaitable[None]]


class Refusal(Exception):
    """The pipeline answers the client now with this status and message; `error_class` is
    what `inference.failed` records (e.g. `structured_output_invalid`)."""

    def __init__(
        self,
        status: int,
        message: str,
        retry_after: float | None = None,
        error_class: str = "refused",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after
        self.error_class = error_class


@dataclass
class InferenceContext:
    """One request on its way through the stages."""

    request: InferRequest
    router: RouterState
    chat: WireObject[ChatCompletionRequest]
    started: float
    stream: bool = False
    include_usage: bool = False
    target: Target | None = None
    registration: RegistrationInfo | None = None
    usage: TokenUsage = field(default_factory=lambda: TokenUsage(0, 0))
    cost: float = 0.0
    first_token_at: float | None = None
    cache_hit: bool = False
    frames: list[bytes] = field(default_factory=list)
    body: bytes = b""
    output_text: list[str] = field(default_factory=list)  # streamed so far, to bill a cut stream


class Stage(Protocol):
    """One step of the pipeline. It works on the context, then awaits `proceed` for the
    stages after it (or answers without it: a refusal, a cache hit), and may act once they
    are done (settle a budget, store an answer). Frames for the client go to `send`."""

    async def __call__(
        self, context: InferenceContext, send: SendFrame, proceed: Proceed
    ) -> None: ...
