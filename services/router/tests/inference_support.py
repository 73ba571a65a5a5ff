"""The inference path under test: gateway + router hot path + a catalog stand-in + the fake
upstream, on the session's NATS. Routers and keys are set up by publishing their events, as
the router admin API and the auth service would."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from nats.aio.client import Client as NatsClient

from hyperstrate_contracts import Event
from hyperstrate_contracts.auth import ApiKeyCreated, UserCreated, VirtualKeyCreated
from hyperstrate_contracts.budgets import (
    BUDGET_SPEND_SUBJECT,
    BudgetSpend,
    BudgetSpendRequest,
    SubjectSpend,
)
from hyperstrate_contracts.catalog import (
    CREDENTIALS_SUBJECT,
    REGISTRATIONS_SUBJECT,
    Credentials,
    CredentialsRequest,
    RegistrationInfo,
    RegistrationList,
    RegistrationsRequest,
)
from hyperstrate_contracts.router import RouterCreated, RouterFeatureSet, RouterTargetAdded
from hyperstrate_gateway.app import create_app as create_gateway_app
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.bus import RemoteError, connect_nats, serve
from hyperstrate_kit.security import generate_key
from hyperstrate_kit.service import ServiceDefinition, create_service_app
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, wait_for
from hyperstrate_providers.fake_upstream import FakeUpstream
from hyperstrate_router.inference_runtime import start_inference
from hyperstrate_router.settings import RouterSettings

ROUTER_HOT_PATH = ServiceDefinition(
    name="router", settings_type=RouterSettings, migrations=None, on_start=[start_inference]
)


@dataclass
class InferenceStack:
    """Handles on a running gateway + router for one test."""

    nc: NatsClient
    gateway_url: str
    upstream_url: str
    org_id: str = field(default_factory=lambda: f"org_{uuid.uuid4().hex[:10]}")
    registrations: dict[str, RegistrationInfo] = field(default_factory=dict)
    upstream: FakeUpstream | None = None  # records what it was asked
    router_apps: list[Any] = field(default_factory=list)  # one per router replica
    # What the observability stand-in says was spent before a router started.
    recorded_spend: list[SubjectSpend] = field(default_factory=list)

    def pipelines(self) -> list[Any]:
        """Each router replica's InferencePipeline (once the apps have started)."""
        return [app.state.runtime.services["inference_pipeline"] for app in self.router_apps]

    async def publish(self, *events: Event) -> None:
        js = self.nc.jetstream()
        for event in events:
            await js.publish(
                event.type, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
            )

    def register(
        self,
        model: str = "fake-gpt",
        price_in: float = 1.0,
        price_out: float = 2.0,
        provider: str = "openai",
    ) -> str:
        """A registration of the fake upstream (answered by the catalog stand-in), on its
        OpenAI routes, or its Anthropic Messages route with `provider="anthropic"`."""
        registration_id = f"reg_{uuid.uuid4().hex[:10]}"
        self.registrations[registration_id] = RegistrationInfo(
            id=registration_id,
            org_id=self.org_id,
            name=model,
            catalog_key=model,
            provider=provider,
            model=model,
            base_url=self.upstream_url if provider == "anthropic" else f"{self.upstream_url}/v1",
            input_per_million=price_in,
            output_per_million=price_out,
        )
        return registration_id

    async def router(
        self,
        name: str,
        targets: list[str],
        strategy: str = "round_robin",
        features: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """A router with targets and features, by its events."""
        router_id = f"rtr_{uuid.uuid4().hex[:10]}"
        events: list[Event] = [
            RouterCreated(org_id=self.org_id, aggregate_id=router_id, name=name, strategy=strategy)
        ]  # type: ignore[arg-type]
        for priority, registration_id in enumerate(targets):
            events.append(
                RouterTargetAdded(
                    org_id=self.org_id,
                    aggregate_id=router_id,
                    target_id=f"tgt_{priority}_{registration_id}",
                    registration_id=registration_id,
                    priority=priority,
                )
            )
        for feature_type, config in (features or {}).items():
            events.append(
                RouterFeatureSet(
                    org_id=self.org_id,
                    aggregate_id=router_id,
                    feature_id=f"f_{feature_type}",
                    feature_type=feature_type,  # type: ignore[arg-type]
                    config=config,
                )
            )
        await self.publish(*events)
        return router_id

    async def api_key(self, key_id: str | None = None, **virtual: Any) -> str:
        """A key for this org: an API key, or a virtual key when limits are given."""
        key = generate_key("hsv_" if virtual else "hs_")
        key_id = key_id or f"key_{uuid.uuid4().hex[:10]}"
        if virtual:
            await self.publish(
                VirtualKeyCreated(
                    org_id=self.org_id,
                    aggregate_id=key_id,
                    name="vk",
                    prefix=key.prefix,
                    key_hash=key.hash,
                    **virtual,
                )
            )
        else:
            user_id = f"usr_{uuid.uuid4().hex[:10]}"
            await self.publish(
                UserCreated(
                    org_id=self.org_id,
                    aggregate_id=user_id,
                    email=f"{user_id}@x.example",
                    name="U",
                    role="member",
                ),
                ApiKeyCreated(
                    org_id=self.org_id,
                    aggregate_id=key_id,
                    name="k",
                    prefix=key.prefix,
                    key_hash=key.hash,
                    user_id=user_id,
                    role="member",
                ),
            )
        return key.key

    def client(self, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.gateway_url, timeout=30, headers={"Authorization": f"Bearer {key}"}
        )


async def wait_until_ready(base_url: str, timeout: float = 30.0) -> None:
    """Wait for a service's /readyz to answer 200."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_for(ready, timeout=timeout, message=f"{base_url}/readyz")


@contextlib.asynccontextmanager
async def inference_stack(
    infrastructure: Infrastructure,
    router_environ: dict[str, str] | None = None,
    router_replicas: int = 1,
    recorded_spend: list[SubjectSpend] | None = None,
) -> AsyncIterator[InferenceStack]:
    """Fake upstream, catalog stand-in, router hot path and gateway, all on loopback.

    `router_environ` adds settings of the router (e.g. its Redis backends);
    `router_replicas` routers share the inference queue group, as replicas do;
    `recorded_spend` is what the observability stand-in says was spent before."""
    environ = {
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": "inference-test-secret-inference-x",
    }
    nc = await connect_nats(infrastructure.nats_url, "inference-test")
    async with FakeUpstream(record_requests=True) as upstream:
        stack = InferenceStack(
            nc=nc,
            gateway_url="",
            upstream_url=upstream.base_url,
            upstream=upstream,
            recorded_spend=recorded_spend or [],
        )

        async def credentials(ask: CredentialsRequest) -> Credentials:
            info = stack.registrations.get(ask.registration_id)
            if info is None or info.org_id != ask.org_id:
                raise RemoteError("not_found", "no such registration")
            return Credentials(
                registration_id=info.id,
                org_id=info.org_id,
                provider=info.provider,
                model=info.model,
                base_url=info.base_url,
                api_key="sk-fake-secret",
            )

        async def registrations(ask: RegistrationsRequest) -> RegistrationList:
            return RegistrationList(
                items=[
                    r
                    for r in stack.registrations.values()
                    if r.org_id == ask.org_id and (not ask.ids or r.id in ask.ids)
                ]
            )

        async def budget_spend(ask: BudgetSpendRequest) -> BudgetSpend:
            return BudgetSpend(items=[s for s in stack.recorded_spend if s.subject > ask.after])

        subscriptions = [
            await serve(
                nc, BUDGET_SPEND_SUBJECT, BudgetSpendRequest, budget_spend, queue="obs-test"
            ),
            await serve(
                nc, CREDENTIALS_SUBJECT, CredentialsRequest, credentials, queue="catalog-test"
            ),
            await serve(
                nc, REGISTRATIONS_SUBJECT, RegistrationsRequest, registrations, queue="catalog-test"
            ),
        ]
        replica_dirs = tempfile.mkdtemp(prefix="router-replicas-")
        stack.router_apps = [
            create_service_app(
                ROUTER_HOT_PATH,
                load_settings(
                    RouterSettings,
                    environ={
                        **environ,
                        **(router_environ or {}),
                        # Each replica its own spill file, as on separate machines.
                        **({"DATA_DIR": f"{replica_dirs}/{n}"} if router_replicas > 1 else {}),
                    },
                ),
            )
            for n in range(router_replicas)
        ]
        gateway_app = create_gateway_app(load_settings(GatewaySettings, environ=environ))
        try:
            async with contextlib.AsyncExitStack() as routers:
                for router_app in stack.router_apps:
                    router_url = await routers.enter_async_context(serve_app(router_app))
                    await wait_until_ready(router_url)  # joined the queue group
                async with serve_app(gateway_app) as gateway_url:
                    stack.gateway_url = gateway_url
                    yield stack
        finally:
            for subscription in subscriptions:
                await subscription.unsubscribe()
            await nc.drain()
            shutil.rmtree(replica_dirs, ignore_errors=True)
