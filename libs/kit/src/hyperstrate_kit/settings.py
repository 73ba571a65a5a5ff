"""Typed settings read once from the environment, then `.env.local`, then `.env`.

A service declares one frozen msgspec Struct (subclassing `ServiceSettings`); every field
maps to the environment variable of the same name in upper case (`log_retention_days` ->
`LOG_RETENTION_DAYS`). An invalid value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import hashlib
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import msgspec

from hyperstrate_kit.security import SecretBox

__all__ = [
    "CATALOG_DEV_KEY_CONTEXT",
    "INSECURE_DEV_JWT_SECRET",
    "OBSERVABILITY_DEV_KEY_CONTEXT",
    "ServiceSettings",
    "SettingsError",
    "development_secrets_key",
    "env_var_name",
    "load_settings",
    "nats_servers",
    "read_env_file",
    "redact",
]

# Used only outside production, where a missing JWT_SECRET would otherwise stop start-up.
INSECURE_DEV_JWT_SECRET = "hyperstrate-insecure-development-secret-change-me"
#: HS256 wants a key at least as long as its hash: anything shorter is guessable offline.
MIN_PRODUCTION_JWT_SECRET_BYTES = 32
#: Contexts of the development keys derived from JWT_SECRET when SECRETS_KEY is unset: the
#: catalog's vault and observability's webhook secrets (production refuses any such key).
CATALOG_DEV_KEY_CONTEXT = b"hyperstrate/catalog/dev-secrets-key\x00"
OBSERVABILITY_DEV_KEY_CONTEXT = b"hyperstrate/observability/dev-secrets-key\x00"
_JWT_DERIVED_KEY_CONTEXTS = (b"", CATALOG_DEV_KEY_CONTEXT, OBSERVABILITY_DEV_KEY_CONTEXT)


class SettingsError(ValueError):
    """Configuration that cannot start a service; the message names the variable(s)."""


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Settings every service shares. Subclass it and add the service's own fields."""

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8090
    # Older names still honoured: (variable, alias read when the variable is unset).
    env_aliases: ClassVar[Mapping[str, str]] = {"DATABASE_URL": "DATABASE_DSN"}

    app_env: Literal["development", "test", "production"] = "development"
    host: str = "0.0.0.0"
    port: int = 0  # 0: the service's default_port
    database_url: str = ""
    database_name: str = ""  # "": hyperstrate_<service>
    #: One server, or a cluster's servers comma-separated (the client fails over among them).
    nats_url: str = "nats://127.0.0.1:4222"
    jwt_secret: str = ""
    secrets_key: str = ""
    frontend_url: str = "http://localhost:8080"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    data_dir: str = ".data"
    otel_exporter_otlp_endpoint: str = ""
    otel_traces_sampler_ratio: float = 1.0
    outbound_allow_private: bool = False
    outbound_allowed_hosts: tuple[str, ...] = ()
    request_timeout_seconds: float = 5.0
    database_pool_size: int = 10
    nats_stream_replicas: int = 1  # 3 on a 3-node JetStream cluster
    #: The user with this e-mail always has the admin role (auth issues, services check).
    admin_email: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError("PORT: must be between 0 and 65535")
        if not 0.0 <= self.otel_traces_sampler_ratio <= 1.0:
            raise SettingsError("OTEL_TRACES_SAMPLER_RATIO: must be between 0 and 1")
        if self.database_pool_size < 1:
            raise SettingsError("DATABASE_POOL_SIZE: must be at least 1")
        if self.nats_stream_replicas not in (1, 3, 5):
            raise SettingsError("NATS_STREAM_REPLICAS: must be 1, 3 or 5")
        nats_servers(self.nats_url)  # raises naming NATS_URL
        if self.is_production:
            _check_production_secrets(self.jwt_secret, self.secrets_key)
        elif self.secrets_key:
            _check_secrets_key_text(self.secrets_key)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={redact(f, getattr(self, f))!r}" for f in self.__struct_fields__)
        return f"{type(self).__name__}({shown})"

    @property
    def is_production(self) -> bool:
        """True when APP_ENV=production."""
        return self.app_env == "production"

    @property
    def listen_port(self) -> int:
        """The port to serve on: PORT, or the service's default."""
        return self.port or self.default_port

    @property
    def database(self) -> str:
        """The name of this service's own database."""
        return self.database_name or f"hyperstrate_{self.service_name}"

    @property
    def effective_jwt_secret(self) -> str:
        """JWT_SECRET, or the insecure development fallback outside production."""
        return self.jwt_secret or INSECURE_DEV_JWT_SECRET


def development_secrets_key(jwt_secret: str, context: bytes) -> bytes:
    """The 32-byte key a service encrypts with outside production when SECRETS_KEY is unset,
    derived from JWT_SECRET (anyone who knows that secret can decrypt: development only)."""
    return hashlib.sha256(context + jwt_secret.encode("utf-8")).digest()


_NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def nats_servers(nats_url: str) -> list[str]:
    """The server URLs of `NATS_URL` (comma-separated), as the NATS client takes them."""
    servers = [server.strip() for server in nats_url.split(",")]
    for position, server in enumerate(servers, start=1):
        scheme, separator, address = server.partition("://")
        if not separator or scheme not in _NATS_SCHEMES or not address:
            # Named by its position, never shown: a URL may carry a user and password.
            raise SettingsError(
                f"NATS_URL: entry {position} of {len(servers)} is not a NATS server URL "
                "(nats://host:port, or tls://; several comma-separated)"
            )
    return servers


def _check_production_secrets(jwt_secret: str, secrets_key: str) -> None:
    """Refuse the secrets a production deployment must not run with (named, never shown)."""
    if not jwt_secret:
        raise SettingsError("JWT_SECRET: must be set when APP_ENV=production")
    if jwt_secret == INSECURE_DEV_JWT_SECRET:
        raise SettingsError(
            "JWT_SECRET: is the public development default; set a random secret when "
            "APP_ENV=production"
        )
    if len(jwt_secret.encode("utf-8")) < MIN_PRODUCTION_JWT_SECRET_BYTES:
        raise SettingsError(
            f"JWT_SECRET: must be at least {MIN_PRODUCTION_JWT_SECRET_BYTES} bytes when "
            "APP_ENV=production (e.g. python3 -c "
            "'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if not secrets_key:
        raise SettingsError(
            "SECRETS_KEY: must be set when APP_ENV=production (base64 of 32 random bytes, e.g. "
            "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
        )
    _check_secrets_key_text(secrets_key)
    if _derived_from_jwt_secret(secrets_key, jwt_secret):
        raise SettingsError(
            "SECRETS_KEY: must not be derived from JWT_SECRET when APP_ENV=production "
            "(one leaked secret would open both); use independent random bytes"
        )


def _check_secrets_key_text(secrets_key: str) -> None:
    try:
        SecretBox.from_key_text(secrets_key)
    except ValueError as exc:  # the message describes the problem, never the key
        raise SettingsError(f"SECRETS_KEY: {exc}") from None


def _derived_from_jwt_secret(secrets_key: str, jwt_secret: str) -> bool:
    """True when a key of SECRETS_KEY (a comma list) is JWT_SECRET itself, or one of the
    development keys the services derive from it (compared by key id, as SecretBox does)."""
    secret = jwt_secret.encode("utf-8")
    candidates = [
        hashlib.sha256(context + secret).digest() for context in _JWT_DERIVED_KEY_CONTEXTS
    ]
    if len(secret) == 32:
        candidates.append(secret)
    derived_ids = {SecretBox([candidate]).key_ids[0] for candidate in candidates}
    configured = SecretBox.from_key_text(secrets_key).key_ids
    texts = {text.strip() for text in secrets_key.split(",")}
    return jwt_secret in texts or not derived_ids.isdisjoint(configured)


S = TypeVar("S", bound=ServiceSettings)


def env_var_name(field_name: str) -> str:
    """The environment variable read for a settings field."""
    return field_name.upper()


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file: KEY=VALUE lines, `#` comments, optional `export`, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def _layered_environment(environ: Mapping[str, str], env_dir: Path) -> dict[str, str]:
    """The environment over `.env.local` over `.env`; the files are ignored in production."""
    if environ.get("APP_ENV") == "production":
        return dict(environ)
    merged = read_env_file(env_dir / ".env")
    merged.update(read_env_file(env_dir / ".env.local"))
    merged.update(environ)
    return merged


def _is_sequence_type(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is types.UnionType or origin is typing.Union:
        return any(_is_sequence_type(arg) for arg in typing.get_args(annotation))
    return origin in (tuple, list, frozenset, set)


def _is_json_type(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    return origin is dict or (isinstance(origin, type) and issubclass(origin, msgspec.Struct))


def _raw_value(annotation: Any, text: str) -> Any:
    """Environment text as the shape msgspec expects: comma lists become sequences, and
    mappings or structs are read as JSON."""
    if _is_sequence_type(annotation):
        return [item.strip() for item in text.split(",") if item.strip()]
    if _is_json_type(annotation):
        return msgspec.json.decode(text) if text.strip() else {}
    return text


def load_settings(
    cls: type[S],
    *,
    environ: Mapping[str, str] | None = None,
    env_dir: Path | None = None,
) -> S:
    """Build `cls` from the environment (then `.env.local`, then `.env` in `env_dir`).

    Raises `SettingsError` naming every variable with an invalid value.
    """
    source = _layered_environment(os.environ if environ is None else environ, env_dir or Path.cwd())
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in msgspec.structs.fields(cls):
        name = env_var_name(field.name)
        text = source.get(name)
        if text is None and name in cls.env_aliases:
            text = source.get(cls.env_aliases[name])
        if text is None:
            continue
        annotation = hints[field.name]
        try:
            values[field.name] = msgspec.convert(
                _raw_value(annotation, text), annotation, strict=False
            )
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            problems.append(f"{name}: {_describe(exc)} (got {redact(field.name, text)!r})")
    if problems:
        raise SettingsError("invalid configuration: " + "; ".join(problems))
    try:
        return cls(**values)
    except SettingsError:
        raise
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"invalid configuration: {exc}") from exc


_SECRET_MARKERS = ("secret", "password", "token", "_key", "provider_settings")


def redact(field_name: str, value: Any) -> Any:
    """A value safe to print: secrets masked, passwords removed from URLs."""
    if value and any(marker in field_name.lower() for marker in _SECRET_MARKERS):
        return "***"
    if isinstance(value, str) and "://" in value and "@" in value:
        scheme, _, rest = value.partition("://")
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else value
    return value


def _describe(exc: msgspec.ValidationError | msgspec.DecodeError) -> str:
    message = str(exc)
    return message.split(" - at ", 1)[0]
