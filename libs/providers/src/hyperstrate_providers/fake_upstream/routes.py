"""The fake upstream's request handling, free of I/O: an HTTP request in, a :class:`Reply` out.

Routes: ``POST /v1/chat/completions`` (also ``/chat/completions``), Azure's
``POST /openai/deployments/{deployment}/chat/completions``, ``POST /v1/messages``, Gemini's
``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``, model lists at
``GET /v1/models`` (also ``/models``, ``/openai/models``) and ``GET /v1beta/models``, and
``GET /health``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

import msgspec

from hyperstrate_providers.anthropic_types import MessagesRequest
from hyperstrate_providers.fake_upstream import anthropic_replies, gemini_replies, openai_replies
from hyperstrate_providers.fake_upstream.answer import compose_answer
from hyperstrate_providers.fake_upstream.script import FakeScript, ScriptError, script_from
from hyperstrate_providers.gemini_types import GenerateContentRequest
from hyperstrate_providers.openai_types import ChatCompletionRequest
from hyperstrate_providers.usage import estimate_request_tokens

__all__ = ["DEFAULT_MODELS", "HttpRequest", "RecordedRequest", "Reply", "Router"]

DEFAULT_MODELS = ("fake-gpt", "fake-claude", "fake-gemini")
SCRIPT_HEADER = "x-fake-script"
_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")
_DEPLOYMENTS_PREFIX = "/openai/deployments/"
_GEMINI_PREFIX = "/v1beta/models/"

_encoder = msgspec.json.Encoder()
_chat_decoder = msgspec.json.Decoder(ChatCompletionRequest)
_messages_decoder = msgspec.json.Decoder(MessagesRequest)
_gemini_decoder = msgspec.json.Decoder(GenerateContentRequest)

ErrorBody = Callable[[int, str], bytes]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A parsed request; header names are lower case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the fake upstream received it (when recording is on)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        """The body decoded as JSON."""
        return msgspec.json.decode(self.body)


@dataclass(slots=True)
class Reply:
    """How to answer: a body or SSE frames, plus the misbehaviour the script asked for."""

    status: int
    body: bytes = b""
    frames: list[bytes] | None = None
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    latency_s: float = 0.0
    chunk_latency_s: float = 0.0
    hang: bool = False
    break_after: int | None = None
    close_without_reply: bool = False

    @property
    def immediate(self) -> bool:
        """Whether the reply can be written at once, without waiting."""
        return not (self.hang or self.latency_s or self.chunk_latency_s)


class Router:
    """Answers requests; keeps the response counter and the optional request record."""

    def __init__(self, *, models: Sequence[str] = DEFAULT_MODELS, record: bool = False) -> None:
        """``models`` are listed by the model endpoints; ``record`` keeps every request."""
        self._models = tuple(models)
        self._ids = itertools.count(1)
        self.recorded: list[RecordedRequest] | None = [] if record else None

    def handle(self, request: HttpRequest) -> Reply:
        """Route one request."""
        if self.recorded is not None:
            self.recorded.append(
                RecordedRequest(
                    request.method, request.path, request.query, request.headers, request.body
                )
            )
        path = request.path
        if request.method == "POST":
            if path.endswith("/chat/completions"):
                deployment = None
                if path.startswith(_DEPLOYMENTS_PREFIX):
                    deployment = unquote(path[len(_DEPLOYMENTS_PREFIX) : -len("/chat/completions")])
                return self._openai(request, deployment)
            if path == "/v1/messages":
                return self._anthropic(request)
            if path.startswith(_GEMINI_PREFIX):
                model, _, method = unquote(path[len(_GEMINI_PREFIX) :]).rpartition(":")
                if method in ("generateContent", "streamGenerateContent"):
                    return self._gemini(request, model, stream=method == "streamGenerateContent")
        elif request.method == "GET":
            if path in ("/v1/models", "/models", "/openai/models"):
                data = [
                    {"id": m, "object": "model", "created": 0, "owned_by": "fake-upstream"}
                    for m in self._models
                ]
                return Reply(200, _encoder.encode({"object": "list", "data": data}))
            if path == "/v1beta/models":
                models = [{"name": f"models/{m}"} for m in self._models]
                return Reply(200, _encoder.encode({"models": models}))
            if path in ("/health", "/healthz"):
                return Reply(200, b'{"status":"ok"}')
        return Reply(404, openai_replies.error_body(404, f"no route for {request.method} {path}"))

    def _next_id(self) -> str:
        return f"fake{next(self._ids):08d}"

    def _openai(self, request: HttpRequest, deployment: str | None) -> Reply:
        try:
            chat = _chat_decoder.decode(request.body)
        except msgspec.DecodeError as exc:
            return Reply(400, openai_replies.error_body(400, f"invalid request: {exc}"))
        # Azure routes by deployment and ignores the body's model: so does the fake.
        model_name = deployment if deployment is not None else chat.model
        early = _early_reply(
            request, model_name, openai_replies.error_body, stream=bool(chat.stream)
        )
        if isinstance(early, Reply):
            return early
        script = early
        answer = compose_answer(
            script,
            last_user_text=openai_replies.last_user_text(chat),
            prompt_tokens=estimate_request_tokens(chat),
            max_output_tokens=chat.output_token_limit,
        )
        model = _plain_model(model_name)
        response_id = self._next_id()
        if chat.stream:
            frames = openai_replies.stream_frames(
                answer, model=model, response_id=response_id, include_usage=chat.wants_usage_chunk
            )
            return _stream_reply(script, frames)
        body = openai_replies.completion_body(
            answer, model=model, response_id=response_id, choices=chat.n or 1
        )
        return _body_reply(script, body)

    def _anthropic(self, request: HttpRequest) -> Reply:
        try:
            message = _messages_decoder.decode(request.body)
        except msgspec.DecodeError as exc:
            return Reply(400, anthropic_replies.error_body(400, f"invalid request: {exc}"))
        early = _early_reply(
            request, message.model, anthropic_replies.error_body, stream=bool(message.stream)
        )
        if isinstance(early, Reply):
            return early
        script = early
        answer = compose_answer(
            script,
            last_user_text=anthropic_replies.last_user_text(message),
            prompt_tokens=anthropic_replies.prompt_tokens(message),
            max_output_tokens=message.max_tokens,
        )
        model = _plain_model(message.model)
        response_id = self._next_id()
        if message.stream:
            frames = anthropic_replies.stream_frames(answer, model=model, response_id=response_id)
            return _stream_reply(script, frames)
        body = anthropic_replies.message_body(answer, model=model, response_id=response_id)
        return _body_reply(script, body)

    def _gemini(self, request: HttpRequest, model_name: str, *, stream: bool) -> Reply:
        try:
            generate = _gemini_decoder.decode(request.body)
        except msgspec.DecodeError as exc:
            return Reply(400, gemini_replies.error_body(400, f"invalid request: {exc}"))
        early = _early_reply(request, model_name, gemini_replies.error_body, stream=stream)
        if isinstance(early, Reply):
            return early
        script = early
        config = generate.generation_config
        answer = compose_answer(
            script,
            last_user_text=gemini_replies.last_user_text(generate),
            prompt_tokens=gemini_replies.prompt_tokens(generate),
            max_output_tokens=config.max_output_tokens if config else None,
        )
        model = _plain_model(model_name)
        response_id = self._next_id()
        if stream:
            frames = gemini_replies.stream_frames(answer, model=model, response_id=response_id)
            return _stream_reply(script, frames)
        body = gemini_replies.response_body(answer, model=model, response_id=response_id)
        return _body_reply(script, body)


def _plain_model(model: str) -> str:
    return model.partition(";")[0]


def _credential(headers: dict[str, str]) -> str:
    for name in _CREDENTIAL_HEADERS:
        value = headers.get(name)
        if value:
            return value.removeprefix("Bearer ")
    return ""


def _early_reply(
    request: HttpRequest, model: str, error_body: ErrorBody, *, stream: bool
) -> Reply | FakeScript:
    """The script, or the reply that ends the request before any answer is composed."""
    try:
        script = script_from(request.headers.get(SCRIPT_HEADER), model)
    except ScriptError as exc:
        return Reply(400, error_body(400, f"bad fake script: {exc}"))
    latency_s = script.latency_ms / 1000
    if script.hang:
        return Reply(0, hang=True)
    if script.break_after is not None and not stream:
        return Reply(0, latency_s=latency_s, close_without_reply=True)
    status = script.fail_status
    if status is None:
        return script
    if status == 401:
        message = f"Incorrect API key provided: {_credential(request.headers)}."
    elif status == 429:
        message = "Rate limit reached for requests. Please try again later."
    else:
        message = f"The fake upstream was scripted to fail with {status}."
    headers = []
    if status in (429, 503):
        headers.append(("retry-after", str(script.retry_after_s)))
    return Reply(status, error_body(status, message), headers=headers, latency_s=latency_s)


def _body_reply(script: FakeScript, body: bytes) -> Reply:
    return Reply(200, body, latency_s=script.latency_ms / 1000)


def _stream_reply(script: FakeScript, frames: list[bytes]) -> Reply:
    if script.cut_after is not None:
        frames = frames[: script.cut_after]
    return Reply(
        200,
        frames=frames,
        content_type="text/event-stream",
        latency_s=script.latency_ms / 1000,
        chunk_latency_s=script.chunk_latency_ms / 1000,
        break_after=script.break_after,
    )
