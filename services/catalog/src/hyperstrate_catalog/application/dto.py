"""Commands (request bodies) and views (responses) of the catalog use cases, camelCase."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from hyperstrate_contracts.catalog import JobStatus, McpTransport, MessageRole, OwnerKind

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Url = Annotated[
    str, msgspec.Meta(min_length=1, max_length=2048, pattern=r"^[hH][tT][tT][pP][sS]?://")
]
ApiKey = Annotated[str, msgspec.Meta(max_length=4096)]
ModelId = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Content = Annotated[str, msgspec.Meta(min_length=1, max_length=1_000_000)]
SystemPrompt = Annotated[str, msgspec.Meta(max_length=100_000)]
HeaderName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")]
HeaderValue = Annotated[str, msgspec.Meta(max_length=8192)]
Headers = Annotated[dict[HeaderName, HeaderValue], msgspec.Meta(max_length=50)]
Messages = Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1, max_length=10_000)]
MaxTokens = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
Temperature = Annotated[float, msgspec.Meta(ge=0, le=2)]
Parameters = Annotated[dict[str, Any], msgspec.Meta(max_length=100)]


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Base of request bodies: camelCase, unknown fields rejected (typos are named)."""


class View(msgspec.Struct, rename="camel"):
    """Base of responses."""


# -- catalog ----------------------------------------------------------------------------------


class PricingView(View):
    """USD per million tokens."""

    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None


class CapabilitiesView(View):
    tools: bool
    vision: bool
    json_schema: bool
    streaming: bool


class CatalogModelView(View):
    key: str
    provider: str
    model_id: str
    display_name: str
    context_window: int
    max_output_tokens: int
    pricing: PricingView
    capabilities: CapabilitiesView
    base_url_required: bool


# -- registrations ----------------------------------------------------------------------------


class RegistrationCreate(Camel):
    """Register a catalog model: a name, the provider API key, an optional base URL override,
    and an optional upstream model id (a fine-tune or deployment name; default: the model's)."""

    name: Name
    catalog_key: Id
    api_key: ApiKey = ""
    base_url: Url | None = None
    model: ModelId | None = None


class RegistrationUpdate(Camel):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    api_key: ApiKey | msgspec.UnsetType = msgspec.UNSET
    base_url: Url | msgspec.UnsetType | None = msgspec.UNSET
    model: ModelId | msgspec.UnsetType | None = msgspec.UNSET


class RegistrationView(View):
    """A registration; the API key is never shown, only whether one is set."""

    id: str
    org_id: str
    name: str
    catalog_key: str
    provider: str
    model: str
    base_url: str | None
    has_api_key: bool
    created_at: datetime
    updated_at: datetime


# -- inference --------------------------------------------------------------------------------


class InferInput(Camel):
    """Run a registration once. `messages` are OpenAI chat messages; `parameters` are more
    OpenAI request fields (e.g. `top_p`, `tools`, `response_format`), passed through."""

    registration_id: Id
    messages: Messages
    stream: bool = False
    max_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    parameters: Parameters = {}


class UsageView(View):
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    estimated: bool


class InferResult(View):
    id: str
    registration_id: str
    model: str
    content: str | None
    finish_reason: str | None
    tool_calls: list[dict[str, Any]] | None
    usage: UsageView
    cost_usd: float
    latency_ms: float
    completion: dict[str, Any]


# -- jobs -------------------------------------------------------------------------------------


class JobSubmit(Camel):
    """An async inference: like `InferInput` without streaming, plus an optional callback."""

    registration_id: Id
    messages: Messages
    max_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    parameters: Parameters = {}
    callback_url: Url | None = None


class JobAccepted(View):
    """The submitted job; `callbackSecret` signs its callback and is shown only here."""

    id: str
    status: JobStatus
    callback_secret: str | None = None


class JobError(View):
    error_class: str
    message: str


class JobView(View):
    """A job; `ownerKind`/`ownerId` name the principal it belongs to (null: submitted before
    owners were recorded, visible to admin sessions only)."""

    id: str
    org_id: str
    registration_id: str
    owner_kind: OwnerKind | None
    owner_id: str | None
    status: JobStatus
    attempts: int
    callback_url: str | None
    callback_status: str | None
    callback_attempts: int
    usage: UsageView | None
    cost_usd: float
    latency_ms: float | None
    error: JobError | None
    result: InferResult | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


# -- conversations ----------------------------------------------------------------------------


class ConversationCreate(Camel):
    title: Name
    registration_id: Id | None = None
    system_prompt: SystemPrompt | None = None


class ConversationUpdate(Camel):
    title: Name | msgspec.UnsetType = msgspec.UNSET
    registration_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    system_prompt: SystemPrompt | msgspec.UnsetType | None = msgspec.UNSET


class ConversationView(View):
    """A conversation and the principal it belongs to (as on `JobView`)."""

    id: str
    org_id: str
    title: str
    registration_id: str | None
    system_prompt: str | None
    message_count: int
    created_at: datetime
    updated_at: datetime
    owner_kind: OwnerKind | None = None
    owner_id: str | None = None


class MessageCreate(Camel):
    role: MessageRole
    content: Content


class MessageView(View):
    id: str
    conversation_id: str
    role: MessageRole
    content: str
    registration_id: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    created_at: datetime


class ConversationSend(Camel):
    """Send the conversation plus `content` (a user message) to a registration (default: the
    conversation's); the reply is appended."""

    content: Content
    registration_id: Id | None = None


class SendResult(View):
    message: MessageView
    reply: MessageView
    usage: UsageView
    cost_usd: float
    latency_ms: float


# -- MCP servers ------------------------------------------------------------------------------


class McpServerCreate(Camel):
    """An MCP server; `headers` (e.g. Authorization) are stored encrypted, never shown."""

    name: Name
    url: Url
    transport: McpTransport = "streamable_http"
    headers: Headers = {}


class McpServerUpdate(Camel):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    url: Url | msgspec.UnsetType = msgspec.UNSET
    transport: McpTransport | msgspec.UnsetType = msgspec.UNSET
    headers: Headers | msgspec.UnsetType = msgspec.UNSET


class McpServerView(View):
    id: str
    org_id: str
    name: str
    url: str
    transport: McpTransport
    header_names: list[str]
    created_at: datetime
    updated_at: datetime


class McpToolView(View):
    name: str
    description: str | None
    input_schema: dict[str, Any]


class McpCheckResult(View):
    """Whether the server answered as an MCP server, and the tools it lists."""

    reachable: bool
    tools: list[McpToolView]
    error: str | None
    latency_ms: float
