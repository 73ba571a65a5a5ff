"""The most a request can cost before it runs: what a budget reserves, so that concurrent
callers cannot pass a cost cap before any of them has settled.

The bound is the prompt's tokens (an upper bound counted locally) at the highest input
price among the router's targets (a fallback may take any of them), plus the output cap (the
request's `max_tokens`, else the model's maximum output) at the highest output price, times
the model calls one request may make (a structured-output repair is one more).
"""

from __future__ import annotations

from collections.abc import Iterable

from hyperstrate_contracts.catalog import RegistrationInfo
from hyperstrate_providers import request_token_bound
from hyperstrate_providers.openai_types import ChatCompletionRequest
from hyperstrate_providers.usage import text_token_bound

__all__ = ["DEFAULT_OUTPUT_TOKEN_BOUND", "output_token_bound", "spend_bound"]

#: The output cap of a model whose catalog entry gives no maximum and no context window.
DEFAULT_OUTPUT_TOKEN_BOUND = 8_192
_MILLION = 1_000_000


def output_token_bound(request: ChatCompletionRequest, registration: RegistrationInfo) -> int:
    """The most output tokens the model may produce for this request."""
    model_limit = registration.max_output_tokens or registration.context_window
    asked = request.output_token_limit
    if asked is not None and asked >= 0:
        return min(asked, model_limit) if model_limit else asked
    return model_limit or DEFAULT_OUTPUT_TOKEN_BOUND


def spend_bound(
    request: ChatCompletionRequest,
    registrations: Iterable[RegistrationInfo],
    calls: int = 1,
    added_text: str = "",
) -> float:
    """The highest cost in USD this request can reach on any of `registrations`;
    `added_text` is what the pipeline adds to the prompt (the linked prompt)."""
    input_tokens = request_token_bound(request) + text_token_bound(added_text)
    worst = 0.0
    for registration in registrations:
        input_price = max(
            registration.input_per_million, registration.cached_input_per_million or 0.0
        )
        cost = (
            input_tokens * input_price
            + output_token_bound(request, registration) * registration.output_per_million
        ) / _MILLION
        worst = max(worst, cost)
    return worst * calls
