"""Inference request bodies checked at the edge, against the providers' documented ranges.

One UTF-8 check and one msgspec decode per body, into a Struct that declares only what is
checked: other fields are skipped unbuilt, and the strings of `messages` are the only values
made. A body that fails names the parameter, in each wire format's own way:
OpenAI's ``param`` (``messages[0].role``) and Anthropic's message prefix (``messages.0.role:``).

Ranges (OpenAI Chat Completions and Anthropic Messages API references): OpenAI ``temperature``
0..2, ``top_p`` 0..1, ``n`` 1..128, ``presence_penalty``/``frequency_penalty`` -2..2,
``top_logprobs`` 0..20, ``logit_bias`` values -100..100, ``max_tokens`` and
``max_completion_tokens`` >= 1; Anthropic ``max_tokens`` >= 1 (required), ``temperature`` and
``top_p`` 0..1, ``top_k`` >= 0. Both: at least one message, a known role, content a string
or an array of typed parts.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec

__all__ = [
    "ANTHROPIC_ROLES",
    "OPENAI_ROLES",
    "InvalidRequestBody",
    "check_chat_completion",
    "check_messages",
    "model_named_in",
]

OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
ANTHROPIC_ROLES = ("user", "assistant")
NOT_A_JSON_OBJECT = "the body must be a JSON object (valid UTF-8, not nested too deeply)"

UnitInterval = Annotated[float, msgspec.Meta(ge=0, le=1)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]


class _Part(msgspec.Struct):
    """A content part or block: an object with a `type` (its other fields are not ours)."""

    type: str


class _OpenAIMessage(msgspec.Struct):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[_Part] | None = None


class _ChatCompletionChecked(msgspec.Struct):
    messages: Annotated[list[_OpenAIMessage], msgspec.Meta(min_length=1)]
    model: str = ""
    stream: bool | None = None
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: UnitInterval | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    logit_bias: dict[str, Annotated[float, msgspec.Meta(ge=-100, le=100)]] | None = None
    stop: str | list[str] | None = None


class _AnthropicMessage(msgspec.Struct):
    role: Literal["user", "assistant"]
    content: str | list[_Part]


class _MessagesChecked(msgspec.Struct):
    messages: Annotated[list[_AnthropicMessage], msgspec.Meta(min_length=1)]
    max_tokens: PositiveInt
    model: str = ""
    stream: bool | None = None
    system: str | list[_Part] | None = None
    temperature: UnitInterval | None = None
    top_p: UnitInterval | None = None
    top_k: Annotated[int, msgspec.Meta(ge=0)] | None = None
    stop_sequences: list[str] | None = None


class _ModelField(msgspec.Struct):
    model: str = ""


Checked = TypeVar("Checked", _ChatCompletionChecked, _MessagesChecked)
_chat_decoder = msgspec.json.Decoder(_ChatCompletionChecked)
_messages_decoder = msgspec.json.Decoder(_MessagesChecked)
_model_decoder = msgspec.json.Decoder(_ModelField)
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")
_INDEX = re.compile(r"\[(\d+)\]")


class InvalidRequestBody(ValueError):
    """A body the provider would refuse: which parameter (None: the body as a whole), why,
    and OpenAI's error ``code`` for it."""

    def __init__(self, param: str | None, reason: str, code: str | None = None) -> None:
        super().__init__(f"{param}: {reason}" if param else reason)
        self.param = param
        self.reason = reason
        self.code = code

    def openai_error(self) -> dict[str, Any]:
        """OpenAI's error body: ``param`` names the parameter (``messages[0].role``)."""
        message = f"Invalid '{self.param}': {self.reason}" if self.param else self.reason
        return {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": self.param,
                "code": self.code,
            }
        }

    def anthropic_error(self) -> dict[str, Any]:
        """Anthropic's error body: the message starts with the field (``messages.0.role:``)."""
        field = _INDEX.sub(r".\1", self.param) if self.param else ""
        message = f"{field}: {self.reason}" if field else self.reason
        return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def check_chat_completion(body: bytes) -> str:
    """Check an OpenAI chat completions body; its `model` ("" when absent).

    Raises :class:`InvalidRequestBody`."""
    return _check(_chat_decoder, body, OPENAI_ROLES).model


def check_messages(body: bytes) -> str:
    """Check an Anthropic messages body; its `model` ("" when absent).

    Raises :class:`InvalidRequestBody`."""
    return _check(_messages_decoder, body, ANTHROPIC_ROLES).model


def model_named_in(body: bytes) -> str:
    """The body's `model` if it can be read at all, else "" (for a body that failed a check,
    so the caller can still be authorised before being told what is wrong)."""
    try:
        return _model_decoder.decode(body).model
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
        return ""


def _check(decoder: msgspec.json.Decoder[Checked], body: bytes, roles: tuple[str, ...]) -> Checked:
    try:
        # msgspec checks the UTF-8 only of the strings it builds, and the router decodes
        # every one: text in a field skipped here must be valid too (a copy at memory speed).
        body.decode("utf-8")
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc), roles) from None
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        # Not JSON, nesting past msgspec's depth limit, or text that is not UTF-8 (a lone
        # surrogate escape included): none of it can reach a provider.
        raise InvalidRequestBody(None, NOT_A_JSON_OBJECT) from None


def _invalid(error: str, roles: tuple[str, ...]) -> InvalidRequestBody:
    """msgspec's "Expected `int` >= 1 - at `$.max_tokens`" as the parameter and the reason."""
    reason, _, at = error.partition(" - at `$")
    # A map's value has no name in msgspec's path (`$.logit_bias[...]`): name the map.
    param = at.rstrip("`").lstrip(".").replace("[...]", "")
    missing = _MISSING_FIELD.search(reason)
    if missing:
        param = f"{param}.{missing.group(1)}" if param else missing.group(1)
        return InvalidRequestBody(param, "missing required parameter", "missing_required_parameter")
    if not param:
        return InvalidRequestBody(None, f"invalid request: {reason}")
    if reason.startswith("Invalid enum value") and param.endswith("role"):
        supported = ", ".join(f"'{role}'" for role in roles)
        return InvalidRequestBody(param, f"{reason}; supported: {supported}", "invalid_value")
    if "of length >= 1" in reason:
        return InvalidRequestBody(param, "expected at least one item", "empty_array")
    code = "invalid_type" if ", got `" in reason else "invalid_value"
    return InvalidRequestBody(param, reason[:1].lower() + reason[1:], code)
