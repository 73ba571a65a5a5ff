"""Health probes of the catalog's registrations: followed from the CATALOG stream, with
credentials asked of the catalog over request/reply."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from observability_support import admin_of, new_org, settings_env

from hyperstrate_contracts import CATALOG
from hyperstrate_contracts.catalog import (
    CREDENTIALS_SUBJECT,
    Credentials,
    CredentialsRequest,
    RegistrationCreated,
    RegistrationDeleted,
)
from hyperstrate_kit.bus import RemoteError, provision_streams, serve
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_observability.app import create_app
from hyperstrate_observability.settings import ObservabilitySettings
from hyperstrate_providers.fake_upstream import FakeUpstream


async def test_catalog_registrations_are_probed_with_their_credentials(
    infrastructure: Infrastructure, nats_client: NatsClient
) -> None:
    settings = load_settings(
        ObservabilitySettings,
        environ=settings_env(infrastructure, HEALTH_CHECK_INTERVAL_SECS="1"),
    )
    org = new_org()
    registration_id = f"reg_{uuid.uuid4().hex}"
    asked: list[str] = []
    js = nats_client.jetstream()
    async with FakeUpstream(record_requests=True) as upstream:

        async def credentials(request: CredentialsRequest) -> Credentials:
            if request.registration_id != registration_id or request.org_id != org:
                raise RemoteError("not_found", "no such registration")
            asked.append(request.registration_id)
            return Credentials(
                registration_id=registration_id,
                org_id=org,
                provider="openai",
                model="gpt-4o-mini",
                base_url=upstream.openai_base_url,
                api_key="sk-catalog-secret",
            )

        responder = await serve(nats_client, CREDENTIALS_SUBJECT, CredentialsRequest, credentials)
        created = RegistrationCreated(
            org_id=org,
            aggregate_id=registration_id,
            name="mini",
            catalog_key="openai/gpt-4o-mini",
            provider="openai",
            model="gpt-4o-mini",
            has_api_key=True,
        )
        await provision_streams(js, [CATALOG])
        await js.publish(created.type, msgspec.json.encode(created))
        try:
            app = create_app(settings)  # the production wiring: the CATALOG stream
            async with AsyncTestClient(app=app) as client:
                admin = admin_of(org)

                async def status() -> dict[str, Any] | None:
                    response = await client.get(
                        f"/observability/health/{registration_id}", headers=admin
                    )
                    return response.json() if response.status_code == 200 else None

                found = await wait_for(status, timeout=20, message="a probed registration")
                assert found["status"]["healthy"] is True
                assert found["status"]["provider"] == "openai"
                assert asked == [registration_id]  # asked once, then cached
                auth = {r.headers.get("authorization") for r in upstream.requests}
                assert auth == {"Bearer sk-catalog-secret"}

                deleted = RegistrationDeleted(org_id=org, aggregate_id=registration_id)
                await js.publish(deleted.type, msgspec.json.encode(deleted))

                async def gone() -> bool:
                    return await status() is None

                await wait_for(gone, timeout=20, message="the deleted registration gone")
        finally:
            await responder.unsubscribe()
