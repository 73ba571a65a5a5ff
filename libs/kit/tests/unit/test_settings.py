"""Settings: precedence, defaults of the reference table, errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperstrate_auth.settings import AuthSettings
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.settings import ServiceSettings, SettingsError, load_settings
from hyperstrate_observability.settings import ObservabilitySettings
from hyperstrate_router.settings import RouterSettings


def test_environment_beats_env_local_beats_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=1111\nLOG_LEVEL=DEBUG\nFRONTEND_URL=http://env\n")
    (tmp_path / ".env.local").write_text("PORT=2222\nLOG_LEVEL=WARNING\n")

    settings = load_settings(ServiceSettings, environ={"PORT": "3333"}, env_dir=tmp_path)

    assert settings.port == 3333  # environment
    assert settings.log_level == "WARNING"  # .env.local over .env
    assert settings.frontend_url == "http://env"  # .env where nothing overrides it


def test_env_files_are_ignored_in_production(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=1111\n")
    environ = {"APP_ENV": "production", "JWT_SECRET": "s3cret"}

    settings = load_settings(ServiceSettings, environ=environ, env_dir=tmp_path)

    assert settings.port == 0 and settings.listen_port == 8090


def test_production_refuses_to_start_without_jwt_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings(ServiceSettings, environ={"APP_ENV": "production"}, env_dir=tmp_path)


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
