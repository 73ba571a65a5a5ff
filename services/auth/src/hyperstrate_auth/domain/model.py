"""Auth domain: identifiers, rules and errors. Pure Python, no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hyperstrate_kit.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    RateLimitedError,
    UnauthorizedError,
)

__all__ = [
    "ALREADY_SET_UP",
    "EmailAlreadyUsed",
    "InvalidCredentials",
    "LoginThrottled",
    "OperatorOnly",
    "SetupAlreadyCompleted",
    "new_id",
    "normalise_email",
    "stream_id",
    "validate_password",
]

ALREADY_SET_UP = "setup already completed"
MIN_PASSWORD_LENGTH = 8


class SetupAlreadyCompleted(ConflictError):
    """An organisation exists: the public setup endpoint is closed."""

    default_message = ALREADY_SET_UP


class EmailAlreadyUsed(ConflictError):
    """Another user has this email."""

    default_message = "a user with this email already exists"


class InvalidCredentials(UnauthorizedError):
    """Wrong email or password (the same answer for both)."""

    default_message = "invalid email or password"


class LoginThrottled(RateLimitedError):
    """Too many failed logins for this account or from this address (429, Retry-After);
    the same answer whether the account exists or not."""

    default_message = "too many failed logins; try again later"

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after=retry_after)


class OperatorOnly(ForbiddenError):
    """Organisations are the operator's to create, not a tenant admin's."""

    default_message = (
        "organizations are created by the operator "
        "(python -m hyperstrate_auth.cli create-org), not through the API"
    )


def new_id(kind: str) -> str:
    """A new identifier, readable by kind: `org_…`, `usr_…`, `team_…`, `key_…`, `vk_…`."""
    return f"{kind}_{uuid.uuid4().hex}"


def stream_id(kind: str, aggregate_id: str) -> str:
    """The event stream of one aggregate."""
    return f"{kind}-{aggregate_id}"


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def validate_password(password: str) -> None:
    """Reject passwords too short to be safe."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            "password too short",
            {"password": [f"must be at least {MIN_PASSWORD_LENGTH} characters"]},
        )


def is_expired(expires_at: datetime | None, now: datetime | None = None) -> bool:
    """True when an expiry is set and has passed."""
    return expires_at is not None and expires_at <= (now or datetime.now(UTC))
