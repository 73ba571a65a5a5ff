"""The SecretBox that seals webhook secrets: `SECRETS_KEY`, or outside production a stable
development key derived from `JWT_SECRET` (with a warning)."""

from __future__ import annotations

import hashlib
import logging

from hyperstrate_kit.security import SecretBox

__all__ = ["secret_box"]

log = logging.getLogger(__name__)

_DEV_KEY_CONTEXT = b"hyperstrate/observability/dev-secrets-key\x00"


def secret_box(secrets_key: str, jwt_secret: str, *, production: bool) -> SecretBox:
    """The box keyed by `SECRETS_KEY` (settings refuse production without one)."""
    if secrets_key:
        return SecretBox.from_key_text(secrets_key)
    if production:
        raise RuntimeError("SECRETS_KEY must be set in production")
    log.warning(
        "SECRETS_KEY is not set: encrypting webhook secrets with a development key derived "
        "from JWT_SECRET; set SECRETS_KEY before relying on them"
    )
    raw = hashlib.sha256(_DEV_KEY_CONTEXT + jwt_secret.encode("utf-8")).digest()
    return SecretBox([raw])
