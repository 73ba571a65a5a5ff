"""Domain errors every service shares, and the standard error envelope.

Application services raise these; one mapper per service (the kit's by default) turns them
into `{"error": str, "fields": {name: [messages]}}` with the right status code.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "AppError",
    "ConflictError",
    "DatabaseUnavailableError",
    "ErrorBody",
    "ForbiddenError",
    "InvalidInputError",
    "NotFoundError",
    "RateLimitedError",
    "UnauthorizedError",
    "UnavailableError",
]


class ErrorBody(msgspec.Struct):
    """The error envelope of every 4xx/5xx answer."""

    error: str
    fields: dict[str, list[str]] = msgspec.field(default_factory=dict)


class AppError(Exception):
    """A failure with a status code and a message safe to show to the caller."""

    status_code = 500
    default_message = "internal server error"

    def __init__(self, message: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.fields = fields or {}


class InvalidInputError(AppError):
    """Input that passed the DTO but breaks a rule (400); name the field in `fields`."""

    status_code = 400
    default_message = "invalid input"


class UnauthorizedError(AppError):
    """No valid credentials (401)."""

    status_code = 401
    default_message = "unauthorized"


class ForbiddenError(AppError):
    """Credentials valid, permission missing (403)."""

    status_code = 403
    default_message = "forbidden"


class NotFoundError(AppError):
    """Absent, or another organisation's (404: never reveal that it exists)."""

    status_code = 404
    default_message = "not found"


class ConflictError(AppError):
    """The state forbids it, or a concurrent change won (409)."""

    status_code = 409
    default_message = "conflict"


class RateLimitedError(AppError):
    """Too many requests (429); `retry_after` seconds go to the Retry-After header."""

    status_code = 429
    default_message = "rate limit exceeded"

    def __init__(self, message: str | None = None, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnavailableError(AppError):
    """A dependency is away (503)."""

    status_code = 503
    default_message = "service unavailable"


class DatabaseUnavailableError(UnavailableError):
    """The service's database is away (down, restarting, unreachable): 503 with Retry-After;
    the request did nothing and may be sent again."""

    default_message = "database unavailable, retry shortly"
    retry_after = 2
