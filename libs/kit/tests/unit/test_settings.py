"""Settings: precedence, defaults of the reference table, errors that name the variable."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from hyperstrate_auth.settings import AuthSettings
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.security import generate_secret_key_text
from hyperstrate_kit.settings import (
    CATALOG_DEV_KEY_CONTEXT,
    INSECURE_DEV_JWT_SECRET,
    OBSERVABILITY_DEV_KEY_CONTEXT,
    ServiceSettings,
    SettingsError,
    development_secrets_key,
    load_settings,
)
from hyperstrate_observability.settings import ObservabilitySettings
from hyperstrate_router.settings import RouterSettings


def test_environment_beats_env_local_beats_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=1111\nLOG_LEVEL=DEBUG\nFRONTEND_URL=http://env\n")
    (tmp_path / ".env.local").write_text("PORT=2222\nLOG_LEVEL=WARNING\n")

    settings = load_settings(ServiceSettings, environ={"PORT": "3333"}, env_dir=tmp_path)

    assert settings.port == 3333  # environment
    assert settings.log_level == "WARNING"  # .env.local over .env
    assert settings.frontend_url == "http://env"  # .env where nothing overrides it


STRONG_JWT_SECRET = "x7Gq2LmN9pRtVw4YzB6cDfHjKs8aE1uO"  # 32 bytes


def production(**variables: str) -> dict[str, str]:
    """A valid production environment, with `variables` changed."""
    environ = {"APP_ENV": "production", "JWT_SECRET": STRONG_JWT_SECRET,
               "SECRETS_KEY": generate_secret_key_text()}  # fmt: skip
    environ.update(variables)
    return {name: value for name, value in environ.items() if value}


def test_env_files_are_ignored_in_production(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=1111\n")
    environ = production()

    settings = load_settings(ServiceSettings, environ=environ, env_dir=tmp_path)

    assert settings.port == 0 and settings.listen_port == 8090


def test_production_refuses_to_start_without_jwt_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings(ServiceSettings, environ=production(JWT_SECRET=""), env_dir=tmp_path)


def _dev_derived_key(context: bytes, jwt_secret: str) -> str:
    """SECRETS_KEY as catalog and observability derive it outside production, as text."""
    return base64.urlsafe_b64encode(development_secrets_key(jwt_secret, context)).decode()


CATALOG_DEV_KEY = _dev_derived_key(CATALOG_DEV_KEY_CONTEXT, STRONG_JWT_SECRET)
OBSERVABILITY_DEV_KEY = _dev_derived_key(OBSERVABILITY_DEV_KEY_CONTEXT, STRONG_JWT_SECRET)
# The plain hash of the secret, too.
PLAIN_HASH_KEY = base64.b64encode(hashlib.sha256(STRONG_JWT_SECRET.encode()).digest()).decode()
ROTATED_TO_A_DERIVED_KEY = (
    f"{generate_secret_key_text()},{_dev_derived_key(b'', STRONG_JWT_SECRET)}"
)


@pytest.mark.parametrize(
    ("variables", "variable", "reason"),
    [
        ({"JWT_SECRET": "a"}, "JWT_SECRET", "at least 32 bytes"),
        ({"JWT_SECRET": "x" * 31}, "JWT_SECRET", "at least 32 bytes"),
        ({"JWT_SECRET": INSECURE_DEV_JWT_SECRET}, "JWT_SECRET", "development default"),
        ({"SECRETS_KEY": ""}, "SECRETS_KEY", "must be set"),
        ({"SECRETS_KEY": "not-a-key"}, "SECRETS_KEY", "base64"),
        ({"SECRETS_KEY": CATALOG_DEV_KEY}, "SECRETS_KEY", "derived"),
        ({"SECRETS_KEY": OBSERVABILITY_DEV_KEY}, "SECRETS_KEY", "derived"),
        ({"SECRETS_KEY": ROTATED_TO_A_DERIVED_KEY}, "SECRETS_KEY", "derived"),
        ({"JWT_SECRET": "A" * 43, "SECRETS_KEY": "A" * 43}, "SECRETS_KEY", "derived"),
    ],
)
def test_production_refuses_weak_secrets_naming_the_variable(
    tmp_path: Path, variables: dict[str, str], variable: str, reason: str
) -> None:
    with pytest.raises(SettingsError, match=variable) as refused:
        load_settings(GatewaySettings, environ=production(**variables), env_dir=tmp_path)
    assert reason in str(refused.value)
    for value in variables.values():  # the message names the variable, never its value
        assert len(value) < 8 or value not in str(refused.value)


def test_development_keeps_its_defaults_and_production_takes_strong_secrets(
    tmp_path: Path,
) -> None:
    development = load_settings(GatewaySettings, environ={"JWT_SECRET": "a"}, env_dir=tmp_path)
    assert development.jwt_secret == "a"  # `just up` and the tests may use anything
    assert load_settings(ServiceSettings, environ={}, env_dir=tmp_path).effective_jwt_secret
    assert load_settings(RouterSettings, environ=production(), env_dir=tmp_path).is_production


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"OUTBOUND_ALLOW_PRIVATE": "maybe"}, "OUTBOUND_ALLOW_PRIVATE"),
    ],
)
def test_invalid_value_names_the_variable(
    tmp_path: Path, environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(ServiceSettings, environ=environ, env_dir=tmp_path)


def test_reference_defaults_keep_their_names_and_values(tmp_path: Path) -> None:
    gateway = load_settings(GatewaySettings, environ={}, env_dir=tmp_path)
    auth = load_settings(AuthSettings, environ={}, env_dir=tmp_path)
    router = load_settings(RouterSettings, environ={}, env_dir=tmp_path)
    observability = load_settings(ObservabilitySettings, environ={}, env_dir=tmp_path)

    assert gateway.listen_port == 8090
    assert gateway.app_env == "development"
    assert gateway.frontend_url == "http://localhost:8080"
    assert auth.admin_email == "" and auth.oidc_providers == () and auth.oidc_jwks_url == ""
    assert router.cache_backend == "memory" and router.rate_limit_backend == "memory"
    assert router.cache_redis_prefix == ""
    assert observability.log_retention_days == 90
    assert observability.health_check_interval_secs == 120


def test_lists_aliases_and_service_rules(tmp_path: Path) -> None:
    auth = load_settings(
        AuthSettings,
        environ={
            "OIDC_PROVIDERS": "google, github",
            "OIDC_PROVIDER_SETTINGS": '{"google": {"clientId": "g", "issuer": "https://g"},'
            ' "github": {"clientId": "h", "issuer": "https://h", "clientSecret": "hush"}}',
            "DATABASE_DSN": "postgresql://db/x",
        },
        env_dir=tmp_path,
    )
    assert auth.oidc_providers == ("google", "github")
    assert auth.oidc_provider_settings["github"].client_secret == "hush"
    assert "hush" not in repr(auth)
    with pytest.raises(SettingsError, match="OIDC_PROVIDER_SETTINGS"):
        load_settings(AuthSettings, environ={"OIDC_PROVIDERS": "google"}, env_dir=tmp_path)
    with pytest.raises(SettingsError, match="OIDC_PROVIDER_SETTINGS"):
        load_settings(AuthSettings, environ={"OIDC_PROVIDER_SETTINGS": "{oops"}, env_dir=tmp_path)
    assert auth.database_url == "postgresql://db/x"  # the reference's DATABASE_DSN still works
    with pytest.raises(SettingsError, match="CACHE_REDIS_ADDR"):
        load_settings(RouterSettings, environ={"CACHE_BACKEND": "redis"}, env_dir=tmp_path)


def test_repr_and_errors_never_show_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        ServiceSettings,
        environ={"JWT_SECRET": "hunter2", "DATABASE_URL": "postgresql://u:pw123@h/db"},
        env_dir=tmp_path,
    )
    assert "hunter2" not in repr(settings) and "pw123" not in repr(settings)
    with pytest.raises(SettingsError) as error:
        load_settings(ServiceSettings, environ={"SECRETS_KEY": "x", "PORT": "x"}, env_dir=tmp_path)
    assert "PORT" in str(error.value)
