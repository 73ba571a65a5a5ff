"""Fixtures: the prompts service running in-process against the session's NATS and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from hyperstrate_kit.sessions import Principal
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, live_session_token, unique_name
from hyperstrate_prompts.app import create_app
from hyperstrate_prompts.settings import PromptsSettings

JWT_SECRET = "prompts-integration-test-secret-0123456789"


def settings_for(infrastructure: Infrastructure, database_name: str) -> PromptsSettings:
    """Settings of a prompts service on the test session's servers."""
    return load_settings(
        PromptsSettings,
        environ={
            "DATABASE_URL": infrastructure.database_url,
            "DATABASE_NAME": database_name,
            "NATS_URL": infrastructure.nats_url,
            "JWT_SECRET": JWT_SECRET,
        },
    )


@pytest_asyncio.fixture
async def prompts_settings(infrastructure: Infrastructure) -> PromptsSettings:
    """Settings with a database of the test's own."""
    return settings_for(infrastructure, unique_name("prompts"))


@pytest_asyncio.fixture
async def prompts_client(
    prompts_settings: PromptsSettings,
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An HTTP client of a fresh prompts service."""
    async with AsyncTestClient(app=create_app(prompts_settings)) as client:
        yield client


def admin_of(org_id: str | None = None, role: str = "admin") -> dict[str, str]:
    """Authorization headers of an admin (or member) of an organisation (a new one by default)."""
    principal = Principal(
        org_id=org_id or f"org_{uuid.uuid4().hex[:12]}",
        user_id=f"usr_{uuid.uuid4().hex[:12]}",
        role="admin" if role == "admin" else "member",
    )
    return {"Authorization": f"Bearer {live_session_token(principal, JWT_SECRET)}"}
