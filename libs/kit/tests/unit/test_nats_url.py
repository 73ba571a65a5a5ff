"""NATS_URL takes one server or a cluster's servers comma-separated; a bad entry is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperstrate_kit.settings import ServiceSettings, SettingsError, load_settings, nats_servers


def test_a_comma_separated_nats_url_is_every_server_of_the_cluster() -> None:
    url = "nats://nats-0.nats-headless:4222, nats://nats-1.nats-headless:4222,tls://n2:4222"
    assert nats_servers(url) == [
        "nats://nats-0.nats-headless:4222",
        "nats://nats-1.nats-headless:4222",
        "tls://n2:4222",
    ]
    assert nats_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]


@pytest.mark.parametrize("url", ["nats://a:4222,", "127.0.0.1:4222", "http://a:4222", "nats://"])
def test_a_bad_nats_url_stops_start_up_naming_the_variable(url: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="NATS_URL"):
        load_settings(ServiceSettings, environ={"NATS_URL": url}, env_dir=tmp_path)


def test_a_bad_nats_url_entry_is_named_by_position_without_its_password(tmp_path: Path) -> None:
    url = "nats://n0:4222,admin:s3cret@n1:4222"
    with pytest.raises(SettingsError, match="entry 2 of 2") as refused:
        load_settings(ServiceSettings, environ={"NATS_URL": url}, env_dir=tmp_path)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("replicas", ["0", "2", "7"])
def test_stream_replicas_are_one_three_or_five(replicas: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="NATS_STREAM_REPLICAS"):
        load_settings(ServiceSettings, environ={"NATS_STREAM_REPLICAS": replicas}, env_dir=tmp_path)
    three = load_settings(ServiceSettings, environ={"NATS_STREAM_REPLICAS": "3"}, env_dir=tmp_path)
    assert three.nats_stream_replicas == 3
