"""Catalog domain: identifiers, rules and errors. Pure Python, no I/O."""

from __future__ import annotations

import uuid

from hyperstrate_contracts.catalog import JobStatus
from hyperstrate_kit.errors import AppError, ConflictError, InvalidInputError, NotFoundError

__all__ = [
    "TERMINAL_JOB_STATUSES",
    "ConversationNotFound",
    "JobNotFound",
    "McpServerNotFound",
    "RegistrationNotFound",
    "UnknownCatalogModel",
    "UpstreamFailed",
    "new_id",
    "stream_id",
]

TERMINAL_JOB_STATUSES: frozenset[JobStatus] = frozenset({"completed", "failed"})


def new_id(kind: str) -> str:
    """A new identifier, readable by kind: `reg_…`, `job_…`, `conv_…`, `msg_…`, `mcp_…`."""
    return f"{kind}_{uuid.uuid4().hex}"


def stream_id(kind: str, aggregate_id: str) -> str:
    """The event stream of one aggregate."""
    return f"{kind}-{aggregate_id}"


class RegistrationNotFound(NotFoundError):
    default_message = "registration not found"


class JobNotFound(NotFoundError):
    default_message = "job not found"


class ConversationNotFound(NotFoundError):
    default_message = "conversation not found"


class McpServerNotFound(NotFoundError):
    default_message = "MCP server not found"


class UnknownCatalogModel(InvalidInputError):
    default_message = "unknown catalog model"


class EmptyConversation(ConflictError):
    default_message = "the conversation has no message to send"


# How each upstream error class reaches the caller: the provider's fault is a 502/504, a
# rate limit stays a 429, and a request the provider rejected is the caller's 400.
_UPSTREAM_STATUS = {
    "rate_limited": 429,
    "timeout": 504,
    "bad_request": 400,
    "auth": 502,
    "server_error": 502,
    "connection": 502,
}


class BaseUrlRefused(AppError):
    """A registration's base URL may not be called now (the outbound rule, with DNS)."""

    status_code = 400


class UpstreamFailed(AppError):
    """The provider call failed; `error_class` says how (the message holds no secret)."""

    def __init__(self, error_class: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"upstream {error_class}: {message}")
        self.error_class = error_class
        self.error_message = message
        self.retryable = retryable
        self.status_code = _UPSTREAM_STATUS.get(error_class, 502)


__all__ += ["BaseUrlRefused", "EmptyConversation"]
