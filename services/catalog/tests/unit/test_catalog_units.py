"""Pure parts of the catalog: the model catalog, callback signatures, settings, the vault."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from hyperstrate_catalog.domain.callbacks import new_callback_secret, sign_callback, verify_callback
from hyperstrate_catalog.domain.catalog import MODELS, find_model
from hyperstrate_catalog.infrastructure.vault import vault_from_settings
from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_contracts.catalog import Credentials
from hyperstrate_kit.security import SecretDecryptionError, generate_secret_key_text
from hyperstrate_kit.settings import SettingsError, load_settings
from hyperstrate_providers import ProviderKind, TokenUsage, cost_of


def test_every_catalog_entry_is_complete_and_keyed_by_its_model() -> None:
    assert len(MODELS) >= 12
    for key, model in MODELS.items():
        assert key == model.key and model.model_id and model.display_name
        assert model.context_window > 0 and 0 < model.max_output_tokens <= model.context_window
        price = model.price
        assert price.input_per_million >= 0 and price.output_per_million >= price.input_per_million
        cached = price.cached_input_per_million
        assert cached is None or cached <= price.input_per_million
    providers = {model.provider for model in MODELS.values()}
    assert {ProviderKind.OPENAI, ProviderKind.ANTHROPIC, ProviderKind.GEMINI} <= providers
    fake = find_model("fake-gpt")
    assert fake is not None and fake.base_url_required
    assert find_model("fake-claude") is not None and find_model("gpt-99") is None


def test_catalog_prices_give_exact_costs() -> None:
    model = find_model("gpt-4o")
    assert model is not None
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=500_000, cached_input_tokens=200_000)
    # 800k uncached at 2.50, 200k cached at 1.25, 500k output at 10.00 (USD per million)
    assert cost_of(usage, model.price) == Decimal("2.00") + Decimal("0.25") + Decimal("5.00")


def test_callback_signatures_verify_and_reject_tampering() -> None:
    secret, body, now = new_callback_secret(), b'{"id":"job_1"}', 1_700_000_000
    header = sign_callback(secret, now, body)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_callback(secret, header, body, now=now + 10)
    assert not verify_callback(secret, header, body + b" ", now=now)
    assert not verify_callback(new_callback_secret(), header, body, now=now)
    assert not verify_callback(secret, header, body, now=now + 3600)  # a replay, too late
    assert not verify_callback(secret, "t=abc,v1=00", body, now=now)


def test_production_refuses_to_start_without_a_secrets_key() -> None:
    environ = {"APP_ENV": "production", "JWT_SECRET": "x" * 40}
    with pytest.raises(SettingsError, match="SECRETS_KEY"):
        load_settings(CatalogSettings, environ=environ)
    key = generate_secret_key_text()
    settings = load_settings(CatalogSettings, environ={**environ, "SECRETS_KEY": key})
    assert settings.is_production and "SECRETS_KEY" not in repr(settings).replace("secrets_key", "")
    assert key not in repr(settings)
    with pytest.raises(SettingsError, match="SECRETS_KEY"):
        load_settings(CatalogSettings, environ={"SECRETS_KEY": "too-short"})
    with pytest.raises(SettingsError, match="CALLBACK_MAX_ATTEMPTS"):
        load_settings(CatalogSettings, environ={"CALLBACK_MAX_ATTEMPTS": "0"})


def test_the_vault_binds_secrets_to_their_owner() -> None:
    vault = vault_from_settings(generate_secret_key_text(), "jwt", production=False)
    sealed = vault.seal("sk-live-123", context="registration:reg_1")
    assert "sk-live-123" not in sealed
    assert vault.open(sealed, context="registration:reg_1") == "sk-live-123"
    with pytest.raises(SecretDecryptionError):
        vault.open(sealed, context="registration:reg_2")  # copied to another row: refused


def test_development_derives_a_stable_key_from_the_jwt_secret_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        first = vault_from_settings("", "the-jwt-secret", production=False)
    assert "SECRETS_KEY is not set" in caplog.text
    second = vault_from_settings("", "the-jwt-secret", production=False)
    sealed = first.seal("sk-dev", context="c")
    assert second.open(sealed, context="c") == "sk-dev"  # survives a restart
    with pytest.raises(SecretDecryptionError):
        vault_from_settings("", "another-secret", production=False).open(sealed, context="c")
    with pytest.raises(RuntimeError):
        vault_from_settings("", "the-jwt-secret", production=True)


def test_credentials_never_print_their_key() -> None:
    credentials = Credentials(
        registration_id="reg_1", org_id="org_1", provider="openai", model="gpt-4o", api_key="sk-x1"
    )
    assert "sk-x1" not in repr(credentials) and "sk-x1" not in str(credentials)
