"""Fixtures of the providers tests: a fake upstream on loopback and a pooled provider client."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hyperstrate_providers.adapters import ClientPool, ProviderClient
from hyperstrate_providers.fake_upstream import FakeUpstream

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    """A fake upstream bound to 127.0.0.1 on a free port, recording requests."""
    async with FakeUpstream(record_requests=True) as upstream:
        yield upstream


@pytest.fixture
async def pool() -> AsyncIterator[ClientPool]:
    """A client pool with short timeouts that ignores proxy settings (loopback only)."""
    async with ClientPool(connect_timeout=2.0, read_timeout=5.0, trust_env=False) as client_pool:
        yield client_pool


@pytest.fixture
def provider_client(pool: ClientPool) -> ProviderClient:
    """A provider client on the test pool."""
    return ProviderClient(pool)


class Golden:
    """Reads golden fixtures and compares results with the expected ones."""

    def read_text(self, name: str) -> str:
        """The text of a fixture."""
        return (GOLDEN_DIR / name).read_text()

    def read_json(self, name: str) -> Any:
        """A JSON fixture."""
        return json.loads(self.read_text(name))

    def check(self, name: str, actual: Any) -> None:
        """Assert ``actual`` equals the expected JSON fixture (``UPDATE_GOLDEN=1`` rewrites it
        instead, for review in the diff)."""
        path = GOLDEN_DIR / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
        assert actual == json.loads(path.read_text())


@pytest.fixture
def golden() -> Golden:
    """Golden fixture access."""
    return Golden()
