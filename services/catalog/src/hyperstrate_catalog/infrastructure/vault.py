"""The default secret vault: AES-256-GCM with the key from `SECRETS_KEY` (kit SecretBox)."""

from __future__ import annotations

import base64
import logging

from hyperstrate_kit.security import SecretBox
from hyperstrate_kit.settings import CATALOG_DEV_KEY_CONTEXT, development_secrets_key

__all__ = ["SecretBoxVault", "vault_from_settings"]

log = logging.getLogger(__name__)


class SecretBoxVault:
    """Seals secrets with a `SecretBox`; the context is the AEAD's associated data."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    def __repr__(self) -> str:
        return f"SecretBoxVault({self._box!r})"

    def seal(self, plaintext: str, *, context: str) -> str:
        """Encrypt `plaintext`, bound to `context`."""
        return self._box.encrypt(plaintext, associated_data=context.encode("utf-8"))

    def open(self, sealed: str, *, context: str) -> str:
        """Decrypt a value sealed with the same `context`."""
        return self._box.decrypt(sealed, associated_data=context.encode("utf-8"))


def vault_from_settings(secrets_key: str, jwt_secret: str, *, production: bool) -> SecretBoxVault:
    """The vault keyed by `SECRETS_KEY`; outside production without one, a stable key derived
    from the JWT secret (with a warning: anyone who knows that secret can decrypt)."""
    if secrets_key:
        return SecretBoxVault(SecretBox.from_key_text(secrets_key))
    if production:  # CatalogSettings refuses this already; never derive a key in production
        raise RuntimeError("SECRETS_KEY must be set in production")
    log.warning(
        "SECRETS_KEY is not set: encrypting secrets with a development key derived from "
        "JWT_SECRET; set SECRETS_KEY before storing real provider keys"
    )
    raw = development_secrets_key(jwt_secret, CATALOG_DEV_KEY_CONTEXT)
    return SecretBoxVault(SecretBox.from_key_text(base64.urlsafe_b64encode(raw).decode("ascii")))
