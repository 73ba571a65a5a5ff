"""The SecretBox that seals webhook secrets: `SECRETS_KEY`, or outside production a stable
development key derived from `JWT_SECRET` (with a warning)."""

from __future__ import annotations

import logging

from hyperstrate_kit.security import SecretBox
from hyperstrate_kit.settings import OBSERVABILITY_DEV_KEY_CONTEXT, development_secrets_key

__all__ = ["secret_box"]

log = logging.getLogger(__name__)


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
    raw = development_secrets_key(jwt_secret, OBSERVABILITY_DEV_KEY_CONTEXT)
    return SecretBox([raw])
