"""Webhook subscriptions: a router's inference events delivered to a URL, signed.

A subscription is made through the API, or follows the router's `webhookUrl` setting (the
ROUTER stream's configuration events create, move and remove it). The signing secret is
generated here, shown once (on creation, and on rotation: the only way to see the secret of
a router's own webhook) and stored encrypted, bound to its webhook id; events about the
subscription never carry it.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import Event
from hyperstrate_contracts.observability import (
    WEBHOOK_EVENT_TYPES,
    WebhookCreated,
    WebhookDeleted,
    WebhookSecretRotated,
    WebhookUpdated,
)
from hyperstrate_contracts.router import RouterConfigured, RouterDeleted
from hyperstrate_kit.database import Database
from hyperstrate_kit.errors import ConflictError, InvalidInputError
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams
from hyperstrate_kit.security import SecretBox, UnsafeUrlError
from hyperstrate_kit.sessions import Principal
from hyperstrate_observability.application import dto
from hyperstrate_observability.application.ports import Ownership, UrlCheck
from hyperstrate_observability.domain.model import (
    DeliveryNotFound,
    RouterNotFound,
    WebhookNotFound,
    new_webhook_id,
    router_webhook_id,
    webhook_stream,
)
from hyperstrate_observability.domain.webhooks import new_webhook_secret
from hyperstrate_observability.infrastructure.repository import ObservabilityRepository
from hyperstrate_observability.infrastructure.tables import webhook_deliveries, webhook_secrets

__all__ = ["ManagedByRouter", "WebhookService", "seal_secret"]


class ManagedByRouter(ConflictError):
    """The webhook follows its router's `webhookUrl`: change or remove it there."""

    default_message = (
        "this webhook follows the router's webhookUrl: change or remove it in the router's "
        "configuration"
    )


def seal_secret(box: SecretBox, webhook_id: str, secret: str) -> str:
    """The stored form of a webhook secret (bound to its webhook: not copyable to another)."""
    return box.encrypt(secret, associated_data=webhook_id.encode("utf-8"))


class WebhookService:
    """Webhook subscription use cases."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: ObservabilityRepository,
        secrets: SecretBox,
        urls: UrlCheck,
        owners: Ownership,
    ) -> None:
        self.database = database
        self.store = store
        self.repo = repository
        self.secrets = secrets
        self.urls = urls
        self.owners = owners

    def _check_url(self, url: str) -> None:
        try:
            self.urls.check_literal(url)
        except UnsafeUrlError as exc:
            raise InvalidInputError(f"url refused: {exc.reason}", {"url": [exc.reason]}) from None

    async def create(self, principal: Principal, data: dto.WebhookCreate) -> dto.WebhookWithSecret:
        """A new subscription; the answer shows its signing secret, once. A router that is
        not the caller's organisation's is a 404 naming `routerId`, as one that never was."""
        self._check_url(data.url)
        if not await self.owners.owns(principal.org_id, "router", data.router_id):
            raise RouterNotFound(fields={"routerId": ["no such router"]})
        webhook_id, secret = new_webhook_id(), new_webhook_secret()
        event = WebhookCreated(
            org_id=principal.org_id,
            aggregate_id=webhook_id,
            router_id=data.router_id,
            url=data.url,
            event_types=tuple(dict.fromkeys(data.event_types)),
            enabled=data.enabled,
        )
        async with self.database.transaction() as session:
            await self.store.append(webhook_stream(webhook_id), 0, [event], session=session)
            await self._store_secret(session, webhook_id, secret)
            webhook = await self._get(session, principal.org_id, webhook_id)
        return dto.WebhookWithSecret(webhook=webhook, secret=secret)

    async def update(
        self, principal: Principal, webhook_id: str, data: dto.WebhookUpdate
    ) -> dto.WebhookView:
        """Change the URL, the event types or the switch."""
        if data.url is not msgspec.UNSET:
            self._check_url(data.url)
        async with self.database.transaction() as session:
            current, version = await self._locked(session, principal.org_id, webhook_id)
            if current.managed_by == "router" and data.url is not msgspec.UNSET:
                raise ManagedByRouter(fields={"url": ["set by the router's webhookUrl"]})
            event = WebhookUpdated(
                org_id=principal.org_id,
                aggregate_id=webhook_id,
                url=current.url if data.url is msgspec.UNSET else data.url,
                event_types=tuple(
                    dict.fromkeys(
                        current.event_types
                        if data.event_types is msgspec.UNSET
                        else data.event_types
                    )
                ),
                enabled=current.enabled if data.enabled is msgspec.UNSET else data.enabled,
            )
            await self._append(session, webhook_id, version, event)
            return await self._get(session, principal.org_id, webhook_id)

    async def rotate_secret(self, principal: Principal, webhook_id: str) -> dto.WebhookWithSecret:
        """Replace the signing secret; the answer shows the new one, once."""
        secret = new_webhook_secret()
        async with self.database.transaction() as session:
            _, version = await self._locked(session, principal.org_id, webhook_id)
            event = WebhookSecretRotated(org_id=principal.org_id, aggregate_id=webhook_id)
            await self._append(session, webhook_id, version, event)
            await self._store_secret(session, webhook_id, secret)
            webhook = await self._get(session, principal.org_id, webhook_id)
        return dto.WebhookWithSecret(webhook=webhook, secret=secret)

    async def delete(self, principal: Principal, webhook_id: str) -> None:
        """Remove the subscription, its secret and its deliveries (pending ones are dropped)."""
        async with self.database.transaction() as session:
            current, version = await self._locked(session, principal.org_id, webhook_id)
            if current.managed_by == "router":
                raise ManagedByRouter()
            await self._remove(session, principal.org_id, webhook_id, version)

    async def follow_router(self, session: AsyncSession, event: Event) -> None:
        """Apply a router's configuration to the webhook that follows its `webhookUrl`
        (in the caller's transaction, with the consumer's inbox row)."""
        if not isinstance(event, RouterConfigured | RouterDeleted):
            return
        webhook_id = router_webhook_id(event.org_id, event.aggregate_id)
        found = await self.repo.webhook(session, event.org_id, webhook_id, lock=True)
        url = event.webhook_url if isinstance(event, RouterConfigured) else None
        if found is None:
            if url:
                created = WebhookCreated(
                    org_id=event.org_id,
                    aggregate_id=webhook_id,
                    router_id=event.aggregate_id,
                    url=url,
                    event_types=WEBHOOK_EVENT_TYPES,
                    managed_by="router",
                )
                # The id is the router's: its stream may hold an earlier life of the webhook.
                version = await self.store.stream_version(
                    webhook_stream(webhook_id), session=session
                )
                await self._append(session, webhook_id, version, created)
                await self._store_secret(session, webhook_id, new_webhook_secret())
            return
        current, version = found
        if not url:
            await self._remove(session, event.org_id, webhook_id, version)
        elif url != current.url:
            moved = WebhookUpdated(
                org_id=event.org_id,
                aggregate_id=webhook_id,
                url=url,
                event_types=tuple(current.event_types),
                enabled=current.enabled,
            )
            await self._append(session, webhook_id, version, moved)

    async def get(self, principal: Principal, webhook_id: str) -> dto.WebhookView:
        """One webhook of the organisation (without its secret)."""
        async with self.database.sessions() as session:
            return await self._get(session, principal.org_id, webhook_id)

    async def list_webhooks(
        self, principal: Principal, router_id: str | None, page: PageParams
    ) -> tuple[list[dto.WebhookView], int]:
        """The organisation's webhooks."""
        async with self.database.sessions() as session:
            return await self.repo.webhooks_of(session, principal.org_id, router_id, page)

    async def deliveries(
        self, principal: Principal, webhook_id: str, status: str | None, page: PageParams
    ) -> tuple[list[dto.DeliveryView], int]:
        """A webhook's deliveries, newest first."""
        async with self.database.sessions() as session:
            await self._get(session, principal.org_id, webhook_id)
            return await self.repo.deliveries(session, principal.org_id, webhook_id, status, page)

    async def retry(
        self, principal: Principal, webhook_id: str, delivery_id: int
    ) -> dto.DeliveryView:
        """Send a dead-lettered delivery again (a fresh round of attempts)."""
        async with self.database.transaction() as session:
            await self._get(session, principal.org_id, webhook_id)
            changed = await session.execute(
                text(
                    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, "
                    "next_attempt_at = now(), last_error = '' "
                    "WHERE id = :id AND webhook_id = :webhook_id AND org_id = :org_id "
                    "AND status = 'dead' RETURNING id"
                ),
                {"id": delivery_id, "webhook_id": webhook_id, "org_id": principal.org_id},
            )
            if changed.first() is None:
                existing = await self.repo.delivery(
                    session, principal.org_id, webhook_id, delivery_id
                )
                if existing is None:
                    raise DeliveryNotFound()
                raise ConflictError(
                    f"only dead deliveries can be retried (this one is {existing.status})"
                )
            found = await self.repo.delivery(session, principal.org_id, webhook_id, delivery_id)
        assert found is not None
        return found

    async def _remove(
        self,
        session: AsyncSession,
        org_id: str,
        webhook_id: str,
        version: int,
    ) -> None:
        event = WebhookDeleted(org_id=org_id, aggregate_id=webhook_id)
        await self._append(session, webhook_id, version, event)
        await session.execute(
            delete(webhook_secrets).where(webhook_secrets.c.webhook_id == webhook_id)
        )
        await session.execute(
            delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
        )

    async def _store_secret(self, session: AsyncSession, webhook_id: str, secret: str) -> None:
        sealed = seal_secret(self.secrets, webhook_id, secret)
        statement = pg_insert(webhook_secrets).values(
            webhook_id=webhook_id, secret_ciphertext=sealed
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[webhook_secrets.c.webhook_id],
                set_={"secret_ciphertext": statement.excluded.secret_ciphertext},
            )
        )

    async def _get(self, session: AsyncSession, org_id: str, webhook_id: str) -> dto.WebhookView:
        found = await self.repo.webhook(session, org_id, webhook_id)
        if found is None:
            raise WebhookNotFound()
        return found[0]

    async def _locked(
        self, session: AsyncSession, org_id: str, webhook_id: str
    ) -> tuple[dto.WebhookView, int]:
        found = await self.repo.webhook(session, org_id, webhook_id, lock=True)
        if found is None:
            raise WebhookNotFound()
        return found

    async def _append(
        self, session: AsyncSession, webhook_id: str, version: int, event: Event
    ) -> None:
        await self.store.append(webhook_stream(webhook_id), version, [event], session=session)
