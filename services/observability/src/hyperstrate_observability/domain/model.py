"""Observability identifiers and errors. Pure Python, no I/O."""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

from hyperstrate_kit.errors import NotFoundError

__all__ = [
    "DeliveryNotFound",
    "LogNotFound",
    "LogStatus",
    "OwnedKind",
    "RegistrationNotFound",
    "RouterNotFound",
    "TeamNotFound",
    "VirtualKeyNotFound",
    "WebhookNotFound",
    "new_webhook_id",
    "router_webhook_id",
    "webhook_stream",
]

#: An inference log's outcome: the event type without its `inference.` prefix.
LogStatus = Literal["completed", "failed"]

#: The other services' resources an API path or body names by id.
OwnedKind = Literal["team", "virtual_key", "router"]


class LogNotFound(NotFoundError):
    default_message = "inference log not found"


class WebhookNotFound(NotFoundError):
    default_message = "webhook not found"


class DeliveryNotFound(NotFoundError):
    default_message = "webhook delivery not found"


class RegistrationNotFound(NotFoundError):
    default_message = "no health data for this registration"


class TeamNotFound(NotFoundError):
    default_message = "team not found"


class VirtualKeyNotFound(NotFoundError):
    default_message = "virtual key not found"


class RouterNotFound(NotFoundError):
    default_message = "router not found"


def new_webhook_id() -> str:
    """A new webhook id (`whk_…`)."""
    return f"whk_{uuid.uuid4().hex}"


def router_webhook_id(org_id: str, router_id: str) -> str:
    """The id of the webhook that follows a router's `webhookUrl` (one per router)."""
    digest = hashlib.sha256(f"{org_id}/{router_id}".encode()).hexdigest()
    return f"whk_r{digest[:32]}"


def webhook_stream(webhook_id: str) -> str:
    """The event stream of one webhook subscription."""
    return f"webhook-{webhook_id}"
