"""Login providers in OIDC_PROVIDER_SETTINGS: kinds, the GitHub preset, start-up errors, and
which GitHub email counts as the user's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hyperstrate_auth.application.oidc import LoginRefused
from hyperstrate_auth.infrastructure.oauth2 import verified_email
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.settings import SettingsError, load_settings


def _providers(config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    settings = load_settings(
        AuthSettings,
        environ={
            "OIDC_PROVIDERS": ",".join(config),
            "OIDC_PROVIDER_SETTINGS": json.dumps(config),
        },
        env_dir=tmp_path,
    )
    return dict(settings.login_providers())


def test_github_without_a_kind_is_oauth2_with_githubs_endpoints(tmp_path: Path) -> None:
    github = _providers({"github": {"clientId": "Iv1.x", "clientSecret": "s"}}, tmp_path)["github"]
    assert github.kind == "oauth2"
    assert github.authorize_url == "https://github.com/login/oauth/authorize"
    assert github.token_url == "https://github.com/login/oauth/access_token"
    assert github.userinfo_url == "https://api.github.com/user"
    assert github.emails_url == "https://api.github.com/user/emails"
    assert set(github.scope.split()) == {"read:user", "user:email"}


def test_a_given_url_beats_the_preset_and_other_providers_default_to_oidc(
    tmp_path: Path,
) -> None:
    providers = _providers(
        {
            "github": {"clientId": "x", "tokenUrl": "https://ghe.example/login/oauth/token"},
            "google": {"clientId": "g", "issuer": "https://accounts.google.com"},
        },
        tmp_path,
    )
    assert providers["github"].token_url == "https://ghe.example/login/oauth/token"
    assert providers["github"].userinfo_url == "https://api.github.com/user"
    assert (providers["google"].kind, providers["google"].scope) == (
        "oidc",
        "openid email profile",
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"kind": "oauth2", "clientId": "x", "authorizeUrl": "https://f/a"}, "needs tokenUrl"),
        (
            {
                "kind": "oauth2",
                "clientId": "x",
                "authorizeUrl": "https://f/a",
                "tokenUrl": "https://f/t",
            },
            "needs userinfoUrl",
        ),
        ({"clientId": "x"}, "needs issuer"),
        ({"kind": "oidc", "clientId": "", "issuer": "https://i"}, "needs clientId"),
        ({"clientId": "x", "issuer": "accounts.example"}, "issuer: must be an http(s) URL"),
        ({"kind": "saml", "clientId": "x"}, "OIDC_PROVIDER_SETTINGS"),
    ],
)
def test_an_incomplete_provider_stops_start_up_naming_the_variable(
    tmp_path: Path, entry: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SettingsError, match="OIDC_PROVIDER_SETTINGS") as error:
        _providers({"forge": entry}, tmp_path)
    assert problem in str(error.value)
    assert "'forge'" in str(error.value) or problem == "OIDC_PROVIDER_SETTINGS"


def test_the_verified_primary_email_wins_then_any_verified_one() -> None:
    emails = [
        {"email": "old@a.example", "primary": False, "verified": False},
        {"email": "work@a.example", "primary": False, "verified": True},
        {"email": "Me@A.example", "primary": True, "verified": True},
    ]
    assert verified_email(emails) == "me@a.example"
    emails[2]["verified"] = False
    assert verified_email(emails) == "work@a.example"
    emails[1]["verified"] = "true"  # only a JSON true is a yes
    with pytest.raises(LoginRefused, match="no verified email"):
        verified_email(emails)
