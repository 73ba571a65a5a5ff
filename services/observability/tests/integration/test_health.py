"""Health monitoring through `libs/providers`: statuses, recent history and change events."""

from __future__ import annotations

from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from observability_support import admin_of, new_org, running, settings_env

from hyperstrate_kit.embedded import free_port
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_observability.application.ports import ProbeTarget
from hyperstrate_observability.infrastructure.registrations import StaticRegistrations
from hyperstrate_observability.settings import ObservabilitySettings
from hyperstrate_providers import ProviderConfig, ProviderKind
from hyperstrate_providers.fake_upstream import FakeUpstream


def _target(org: str, registration_id: str, base_url: str) -> ProbeTarget:
    return ProbeTarget(
        registration_id=registration_id,
        org_id=org,
        provider="openai",
        model="gpt-4o-mini",
        config=ProviderConfig(
            kind=ProviderKind.OPENAI, model="gpt-4o-mini", api_key="sk-test", base_url=base_url
        ),
    )


async def test_probes_report_status_history_and_publish_changes(
    infrastructure: Infrastructure, nats_client: NatsClient
) -> None:
    settings = load_settings(
        ObservabilitySettings,
        environ=settings_env(
            infrastructure,
            HEALTH_CHECK_INTERVAL_SECS="1",
            HEALTH_FAILURE_THRESHOLD="2",
            HEALTH_PROBE_TIMEOUT_SECS="2",
        ),
    )
    org = new_org()
    admin = admin_of(org)
    good_id, bad_id = f"reg-good-{org}", f"reg-bad-{org}"
    changes: list[dict[str, Any]] = []

    async def on_change(msg: Any) -> None:
        event = msgspec.json.decode(msg.data)
        if event["org_id"] == org:
            changes.append(event)

    js = nats_client.jetstream()
    async with FakeUpstream() as upstream:
        dead_url = f"http://127.0.0.1:{free_port()}/v1"
        source = StaticRegistrations(
            [_target(org, good_id, upstream.openai_base_url), _target(org, bad_id, dead_url)]
        )
        async with running(settings, registrations=source) as client:
            subscription = await js.subscribe(
                "observability.registration_health.changed", cb=on_change, ordered_consumer=True
            )
            try:

                async def status(registration_id: str) -> dict[str, Any] | None:
                    response = await client.get(
                        f"/observability/health/{registration_id}", headers=admin
                    )
                    return response.json() if response.status_code == 200 else None

                async def bad_is_down() -> bool:
                    found = await status(bad_id)
                    return bool(found and found["status"]["healthy"] is False)

                await wait_for(bad_is_down, timeout=20, message="the bad registration down")
                detail = await status(bad_id)
                assert detail is not None
                assert detail["status"]["consecutiveFailures"] >= 2
                assert "connection" in detail["status"]["reason"]
                assert all(not check["ok"] for check in detail["recentChecks"])
                good = await status(good_id)
                assert good is not None and good["status"]["healthy"] is True
                assert good["status"]["latencyMs"] is not None

                listed = await client.get("/observability/health?healthy=false", headers=admin)
                assert [h["registrationId"] for h in listed.json()["items"]] == [bad_id]
                outsider = admin_of(new_org())
                hidden = await client.get(f"/observability/health/{bad_id}", headers=outsider)
                assert hidden.status_code == 404

                # The provider comes back: one good probe makes it healthy again.
                source.items = [
                    _target(org, good_id, upstream.openai_base_url),
                    _target(org, bad_id, upstream.openai_base_url),
                ]

                async def bad_is_back() -> bool:
                    found = await status(bad_id)
                    return bool(found and found["status"]["healthy"])

                await wait_for(bad_is_back, timeout=20, message="the registration back up")
                await wait_for(lambda: len(changes) >= 3, timeout=10, message="3 health events")
                seen = [(c["registration_id"], c["healthy"]) for c in changes]
                assert seen.count((good_id, True)) == 1  # first report only: no news since
                # One failure was not news yet; the second made it unhealthy.
                assert [s for s in seen if s[0] == bad_id] == [(bad_id, False), (bad_id, True)]
                assert changes[-1]["provider"] == "openai"

                # A registration that is gone from the catalog leaves the list.
                source.items = [_target(org, good_id, upstream.openai_base_url)]

                async def forgotten() -> bool:
                    return await status(bad_id) is None

                await wait_for(forgotten, timeout=20, message="the removed registration gone")
            finally:
                await subscription.unsubscribe()
