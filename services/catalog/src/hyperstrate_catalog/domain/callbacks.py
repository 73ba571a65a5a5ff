"""Signed job callbacks: `X-Hyperstrate-Signature: t=<unix seconds>,v1=<hex>`.

`v1` is the lowercase hex HMAC-SHA256, keyed with the job's callback secret, of
`"<t>." + body` (the timestamp, a dot, then the exact body bytes). A receiver recomputes it,
compares in constant time, and rejects a timestamp too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "SIGNATURE_HEADER",
    "new_callback_secret",
    "sign_callback",
    "verify_callback",
]

SIGNATURE_HEADER = "X-Hyperstrate-Signature"
_SECRET_PREFIX = "whsec_"


def new_callback_secret() -> str:
    """A fresh random signing secret (shown to the submitter once)."""
    return _SECRET_PREFIX + secrets.token_urlsafe(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_callback(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_callback(
    secret: str, header: str, body: bytes, *, now: int, tolerance_seconds: int = 300
) -> bool:
    """True when `header` signs `body` with `secret` within `tolerance_seconds` of `now`."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
