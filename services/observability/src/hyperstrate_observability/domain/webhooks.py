"""Webhook signatures, secrets and retry delays. Pure Python, no I/O.

A delivery carries `X-Hyperstrate-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256 keyed by the webhook's secret over `<t>.<raw body>`. Receivers recompute it,
compare in constant time and reject old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = [
    "SIGNATURE_HEADER",
    "backoff_delay",
    "new_webhook_secret",
    "sign",
    "signature_header",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Hyperstrate-Signature"
SECRET_PREFIX = "whsec_"


def new_webhook_secret() -> str:
    """A new signing secret (256 random bits), shown once to the admin who asked for it."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` keyed by `secret`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Hyperstrate-Signature` value of a delivery."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: int, tolerance_seconds: int = 300
) -> bool:
    """What a receiver does: True when the header signs `body` and is recent enough."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff_delay(attempt: int, delays: Sequence[float]) -> float:
    """The delay before retry number `attempt` (1-based); the last delay repeats."""
    return float(delays[min(max(attempt, 1), len(delays)) - 1])
