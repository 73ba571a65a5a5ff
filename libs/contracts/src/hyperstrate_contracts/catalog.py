"""CATALOG stream events, the catalog's request/reply messages, and the JOBS work queue.

Registration and MCP server events carry no secret, not even encrypted: other services get
a registration's decrypted credentials (or an MCP server's headers) only by asking
`svc.catalog.credentials` (`svc.catalog.mcp_credentials`), and drop what they cached when an
event says the registration changed or went away (`credentials_changed`).

Job events say what happened to an async inference job; the job's request and result stay in
the catalog's database (they are payloads, like inference bodies), never on the bus.
Conversation events carry their messages: the messages are the conversation.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from hyperstrate_contracts.events import Event, EventRegistry
from hyperstrate_contracts.streams import ConsumerSpec

__all__ = [
    "BASE_URL_REFUSED",
    "CATALOG_EVENTS",
    "CREDENTIALS_SUBJECT",
    "JOBS_WORKER",
    "JOB_SUBMITTED_SUBJECT",
    "MCP_CREDENTIALS_SUBJECT",
    "REGISTRATIONS_SUBJECT",
    "ConversationCreated",
    "ConversationDeleted",
    "ConversationMessageAdded",
    "ConversationUpdated",
    "Credentials",
    "CredentialsRequest",
    "JobCallbackDelivered",
    "JobCallbackFailed",
    "JobCompleted",
    "JobFailed",
    "JobStarted",
    "JobStatus",
    "JobSubmitted",
    "JobToRun",
    "McpServerCreated",
    "McpServerCredentials",
    "McpServerCredentialsRequest",
    "McpServerDeleted",
    "McpServerUpdated",
    "McpTransport",
    "MessageRole",
    "Owner",
    "OwnerKind",
    "RegistrationCreated",
    "RegistrationDeleted",
    "RegistrationInfo",
    "RegistrationList",
    "RegistrationUpdated",
    "RegistrationsRequest",
    "catalog_registry",
]

JobStatus = Literal["queued", "running", "completed", "failed"]
MessageRole = Literal["user", "assistant"]
McpTransport = Literal["streamable_http", "sse"]
#: Who owns a job or a conversation: the user of a session, or the key that created it.
OwnerKind = Literal["user", "api_key", "virtual_key"]


class Owner(msgspec.Struct, frozen=True, kw_only=True):
    """The principal a job or a conversation belongs to (only it and admin sessions see it)."""

    kind: OwnerKind
    id: str


# -- registrations ----------------------------------------------------------------------------


class RegistrationCreated(Event, frozen=True, kw_only=True, tag="catalog.registration.created"):
    """A catalog model registered for an organisation. `model` is the id sent upstream."""

    name: str
    catalog_key: str
    provider: str
    model: str
    base_url: str | None = None
    has_api_key: bool = False


class RegistrationUpdated(Event, frozen=True, kw_only=True, tag="catalog.registration.updated"):
    """The registration's current name, model and base URL; `credentials_changed` tells a
    cache of its credentials (key, base URL or model) to drop them."""

    name: str
    model: str
    base_url: str | None = None
    has_api_key: bool = False
    credentials_changed: bool = False


class RegistrationDeleted(Event, frozen=True, kw_only=True, tag="catalog.registration.deleted"):
    pass


# -- async jobs -------------------------------------------------------------------------------


class JobSubmitted(Event, frozen=True, kw_only=True, tag="catalog.job.submitted"):
    """An async inference job accepted; `aggregate_id` is the job id."""

    registration_id: str
    has_callback: bool = False
    submitted_by: str = ""  # user id or API key id (kept for old readers: see `owner`)
    owner: Owner | None = None  # None on jobs submitted before owners were recorded


class JobStarted(Event, frozen=True, kw_only=True, tag="catalog.job.started"):
    """A worker began running the job (again, after a crash: `attempt` > 1)."""

    attempt: int


class JobCompleted(Event, frozen=True, kw_only=True, tag="catalog.job.completed"):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0


class JobFailed(Event, frozen=True, kw_only=True, tag="catalog.job.failed"):
    error_class: str
    error_message: str = ""  # safe to show: never a secret


class JobCallbackDelivered(Event, frozen=True, kw_only=True, tag="catalog.job.callback_delivered"):
    status_code: int
    attempts: int


class JobCallbackFailed(Event, frozen=True, kw_only=True, tag="catalog.job.callback_failed"):
    """Every delivery attempt of the job's callback failed."""

    attempts: int
    error: str = ""
    status_code: int | None = None


# -- conversations ----------------------------------------------------------------------------


class ConversationCreated(Event, frozen=True, kw_only=True, tag="catalog.conversation.created"):
    title: str
    registration_id: str | None = None
    system_prompt: str | None = None
    owner: Owner | None = None  # None on conversations created before owners were recorded


class ConversationUpdated(Event, frozen=True, kw_only=True, tag="catalog.conversation.updated"):
    title: str
    registration_id: str | None = None
    system_prompt: str | None = None


class ConversationDeleted(Event, frozen=True, kw_only=True, tag="catalog.conversation.deleted"):
    pass


class ConversationMessageAdded(
    Event, frozen=True, kw_only=True, tag="catalog.conversation.message_added"
):
    """A message appended to a conversation (by a caller, or a model's reply)."""

    message_id: str
    role: MessageRole
    content: str
    registration_id: str | None = None  # the model that wrote an assistant reply
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


# -- MCP servers ------------------------------------------------------------------------------


class McpServerCreated(Event, frozen=True, kw_only=True, tag="catalog.mcp_server.created"):
    """An MCP server registered; `header_names` only: the values are secrets."""

    name: str
    url: str
    transport: McpTransport
    header_names: tuple[str, ...] = ()


class McpServerUpdated(Event, frozen=True, kw_only=True, tag="catalog.mcp_server.updated"):
    name: str
    url: str
    transport: McpTransport
    header_names: tuple[str, ...] = ()
    credentials_changed: bool = False


class McpServerDeleted(Event, frozen=True, kw_only=True, tag="catalog.mcp_server.deleted"):
    pass


CATALOG_EVENTS: tuple[type[Event], ...] = (
    RegistrationCreated, RegistrationUpdated, RegistrationDeleted,
    JobSubmitted, JobStarted, JobCompleted, JobFailed, JobCallbackDelivered, JobCallbackFailed,
    ConversationCreated, ConversationUpdated, ConversationDeleted, ConversationMessageAdded,
    McpServerCreated, McpServerUpdated, McpServerDeleted,
)  # fmt: skip


def catalog_registry() -> EventRegistry:
    """A registry of every CATALOG event."""
    return EventRegistry(CATALOG_EVENTS)


# -- request/reply: svc.catalog.* -------------------------------------------------------------

CREDENTIALS_SUBJECT = "svc.catalog.credentials"
REGISTRATIONS_SUBJECT = "svc.catalog.registrations"
MCP_CREDENTIALS_SUBJECT = "svc.catalog.mcp_credentials"


#: The error reply of `svc.catalog.credentials` for a registration whose base URL the
#: catalog's outbound rule refuses now (`OUTBOUND_ALLOW_PRIVATE`, `OUTBOUND_ALLOWED_HOSTS`):
#: the message says why; the caller treats it as that target's failed call.
BASE_URL_REFUSED = "base_url_refused"


class CredentialsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Ask for one registration's decrypted credentials to call it (error replies
    `not_found`, and `base_url_refused` when its base URL may not be called)."""

    org_id: str
    registration_id: str


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    """What calling a registration's model takes. Never log it: `api_key` is the secret."""

    registration_id: str
    org_id: str
    provider: str  # a hyperstrate_providers ProviderKind value
    model: str
    base_url: str | None = None
    api_key: str = ""

    def __repr__(self) -> str:
        return (
            f"Credentials(registration_id={self.registration_id!r}, provider={self.provider!r}, "
            f"model={self.model!r}, base_url={self.base_url!r}, api_key='***')"
        )


class RegistrationsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Ask for an organisation's registrations (all of them when `ids` is empty)."""

    org_id: str
    ids: tuple[str, ...] = ()


class RegistrationInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A registration with its catalog facts (no secret); prices per million tokens in USD."""

    id: str
    org_id: str
    name: str
    catalog_key: str
    provider: str
    model: str
    base_url: str | None = None
    context_window: int = 0
    max_output_tokens: int = 0  # 0: unknown
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    cached_input_per_million: float | None = None
    supports_tools: bool = False
    supports_vision: bool = False
    supports_json_schema: bool = False
    supports_streaming: bool = True


class RegistrationList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[RegistrationInfo]


class McpServerCredentialsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Ask for an MCP server's URL and decrypted headers (error reply `not_found`)."""

    org_id: str
    server_id: str


class McpServerCredentials(msgspec.Struct, frozen=True, kw_only=True):
    server_id: str
    org_id: str
    url: str
    transport: McpTransport
    headers: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"McpServerCredentials(server_id={self.server_id!r}, url={self.url!r}, "
            f"headers={sorted(self.headers)!r})"
        )


# -- JOBS work queue --------------------------------------------------------------------------

JOB_SUBMITTED_SUBJECT = "jobs.inference.submitted"


class JobToRun(msgspec.Struct, frozen=True, kw_only=True):
    """The JOBS message (`jobs.inference.submitted`, `Nats-Msg-Id` = job id): run this job.

    The request itself stays in the catalog's database; the worker loads it by id.
    """

    job_id: str
    org_id: str


#: The catalog worker's durable consumer of the JOBS work queue.
JOBS_WORKER = ConsumerSpec(
    stream="JOBS",
    durable="catalog-jobs-worker",
    filter_subjects=(JOB_SUBMITTED_SUBJECT,),
    description="catalog worker: runs async inference jobs",
    max_deliver=5,
    ack_wait_seconds=30.0,
    backoff_seconds=(1.0, 5.0, 15.0, 30.0),
    max_ack_pending=64,
)
