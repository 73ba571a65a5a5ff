"""Catalog and registrations: browse the models, register them with encrypted API keys, and
hand decrypted credentials to the services that call them (never through events)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from hyperstrate_catalog.application import dto
from hyperstrate_catalog.application.common import merge
from hyperstrate_catalog.application.ports import BaseUrlCheck, SecretVault
from hyperstrate_catalog.domain.catalog import MODELS, CatalogModel, find_model
from hyperstrate_catalog.domain.model import (
    BaseUrlRefused,
    RegistrationNotFound,
    new_id,
    stream_id,
)
from hyperstrate_catalog.infrastructure.repository import CatalogRepository
from hyperstrate_catalog.infrastructure.tables import registrations
from hyperstrate_contracts.catalog import (
    Credentials,
    RegistrationCreated,
    RegistrationDeleted,
    RegistrationInfo,
    RegistrationUpdated,
)
from hyperstrate_kit.database import Database
from hyperstrate_kit.errors import InvalidInputError
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams
from hyperstrate_kit.sessions import Principal
from hyperstrate_providers import ProviderConfig, ProviderKind

__all__ = ["RegistrationService", "Target", "catalog_view"]


def _money(value: object) -> float:
    return float(str(value))


def catalog_view(model: CatalogModel) -> dto.CatalogModelView:
    """The API view of a catalog entry."""
    price, caps = model.price, model.capabilities
    cached = price.cached_input_per_million
    return dto.CatalogModelView(
        key=model.key,
        provider=model.provider.value,
        model_id=model.model_id,
        display_name=model.display_name,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        pricing=dto.PricingView(
            input_per_million=_money(price.input_per_million),
            output_per_million=_money(price.output_per_million),
            cached_input_per_million=_money(cached) if cached is not None else None,
        ),
        capabilities=dto.CapabilitiesView(
            tools=caps.tools,
            vision=caps.vision,
            json_schema=caps.json_schema,
            streaming=caps.streaming,
        ),
        base_url_required=model.base_url_required,
    )


@dataclass(frozen=True, slots=True)
class Target:
    """Everything calling one registration takes: its provider config and catalog entry."""

    registration: dto.RegistrationView
    model: CatalogModel
    config: ProviderConfig


def _secret_context(registration_id: str) -> str:
    return f"registration:{registration_id}"


class RegistrationService:
    """The catalog and the organisation's registrations."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: CatalogRepository,
        vault: SecretVault,
        base_urls: BaseUrlCheck,
        *,
        upstream_read_timeout: float | None = None,
    ) -> None:
        self.database = database
        self.store = store
        self.repo = repository
        self.vault = vault
        self.base_urls = base_urls
        self.upstream_read_timeout = upstream_read_timeout

    # -- catalog ------------------------------------------------------------------------

    def catalog(
        self, page: PageParams, provider: str | None = None
    ) -> tuple[list[dto.CatalogModelView], int]:
        """The supported models (optionally of one provider), in catalog order."""
        models = [m for m in MODELS.values() if provider is None or m.provider.value == provider]
        chosen = models[page.offset : page.offset + page.limit]
        return [catalog_view(model) for model in chosen], len(models)

    # -- registrations ------------------------------------------------------------------

    @staticmethod
    def _catalog_model(key: str) -> CatalogModel:
        model = find_model(key)
        if model is None:
            raise InvalidInputError(
                "unknown catalog model", {"catalogKey": [f"{key!r} is not in the catalog"]}
            )
        return model

    @staticmethod
    def _require_base_url(model: CatalogModel, base_url: str | None) -> None:
        if model.base_url_required and not base_url:
            raise InvalidInputError(
                "base URL required", {"baseUrl": [f"required for catalog model {model.key!r}"]}
            )

    async def create(
        self, principal: Principal, data: dto.RegistrationCreate
    ) -> dto.RegistrationView:
        """Register a catalog model for the caller's organisation."""
        model = self._catalog_model(data.catalog_key)
        self._require_base_url(model, data.base_url)
        registration_id = new_id("reg")
        async with self.database.transaction() as session:
            await self.store.append(
                stream_id("registration", registration_id),
                0,
                [
                    RegistrationCreated(
                        org_id=principal.org_id,
                        aggregate_id=registration_id,
                        name=data.name,
                        catalog_key=model.key,
                        provider=model.provider.value,
                        model=data.model or model.model_id,
                        base_url=data.base_url,
                        has_api_key=bool(data.api_key),
                    )
                ],
                session=session,
            )
            if data.api_key:
                sealed = self.vault.seal(data.api_key, context=_secret_context(registration_id))
                await self.repo.store_api_key(session, registration_id, principal.org_id, sealed)
            view = await self.repo.registration(session, principal.org_id, registration_id)
        assert view is not None
        return view

    async def list_page(
        self, principal: Principal, page: PageParams
    ) -> tuple[list[dto.RegistrationView], int]:
        """The organisation's registrations."""
        async with self.database.sessions() as session:
            return await self.repo.registrations_of(session, principal.org_id, page)

    async def get(self, org_id: str, registration_id: str) -> dto.RegistrationView:
        """One registration of the organisation."""
        async with self.database.sessions() as session:
            view = await self.repo.registration(session, org_id, registration_id)
        if view is None:
            raise RegistrationNotFound()
        return view

    async def update(
        self, principal: Principal, registration_id: str, data: dto.RegistrationUpdate
    ) -> dto.RegistrationView:
        """Rename, change the key, the base URL or the upstream model."""
        org_id = principal.org_id
        async with self.database.transaction() as session:
            current = await self.repo.registration(session, org_id, registration_id)
            row = await self.repo.versioned(session, registrations, org_id, registration_id)
            if current is None or row is None:
                raise RegistrationNotFound()
            model = self._catalog_model(current.catalog_key)
            merged = merge(msgspec.structs.asdict(current), data)
            merged["model"] = merged["model"] or model.model_id
            self._require_base_url(model, merged["base_url"])
            has_api_key = current.has_api_key
            if data.api_key is not msgspec.UNSET:
                has_api_key = bool(data.api_key)
                if data.api_key:
                    sealed = self.vault.seal(data.api_key, context=_secret_context(registration_id))
                    await self.repo.store_api_key(session, registration_id, org_id, sealed)
                else:
                    await self.repo.forget_api_key(session, registration_id)
            credentials_changed = (
                data.api_key is not msgspec.UNSET
                or merged["base_url"] != current.base_url
                or merged["model"] != current.model
            )
            await self.store.append(
                stream_id("registration", registration_id),
                row.version,
                [
                    RegistrationUpdated(
                        org_id=org_id,
                        aggregate_id=registration_id,
                        name=merged["name"],
                        model=merged["model"],
                        base_url=merged["base_url"],
                        has_api_key=has_api_key,
                        credentials_changed=credentials_changed,
                    )
                ],
                session=session,
            )
            view = await self.repo.registration(session, org_id, registration_id)
        assert view is not None
        return view

    async def delete(self, principal: Principal, registration_id: str) -> None:
        """Remove a registration and its key."""
        async with self.database.transaction() as session:
            row = await self.repo.versioned(
                session, registrations, principal.org_id, registration_id
            )
            if row is None:
                raise RegistrationNotFound()
            await self.store.append(
                stream_id("registration", registration_id),
                row.version,
                [RegistrationDeleted(org_id=principal.org_id, aggregate_id=registration_id)],
                session=session,
            )
            await self.repo.forget_api_key(session, registration_id)

    # -- credentials and targets --------------------------------------------------------

    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        """A registration's decrypted credentials (for `svc.catalog.credentials`)."""
        async with self.database.sessions() as session:
            view = await self.repo.registration(session, org_id, registration_id)
            sealed = await self.repo.sealed_api_key(session, org_id, registration_id)
        if view is None:
            raise RegistrationNotFound()
        api_key = self.vault.open(sealed, context=_secret_context(view.id)) if sealed else ""
        return Credentials(
            registration_id=view.id,
            org_id=view.org_id,
            provider=view.provider,
            model=view.model,
            base_url=view.base_url,
            api_key=api_key,
        )

    async def callable_credentials(self, org_id: str, registration_id: str) -> Credentials:
        """The credentials a router calls the registration with, once its base URL passes
        the rule `/ai` calls are held to as well (`BaseUrlRefused` otherwise)."""
        credentials = await self.credentials(org_id, registration_id)
        refusal = await self.base_urls.refusal(credentials.base_url)
        if refusal is not None:
            raise BaseUrlRefused(refusal)
        return credentials

    async def target(self, org_id: str, registration_id: str) -> Target:
        """How to call a registration of the organisation."""
        credentials = await self.credentials(org_id, registration_id)
        view = await self.get(org_id, registration_id)
        model = find_model(view.catalog_key)
        if model is None:  # a model dropped from the catalog since it was registered
            raise InvalidInputError(
                "the registration's model is no longer in the catalog",
                {"registrationId": [f"catalog model {view.catalog_key!r} is gone"]},
            )
        config = ProviderConfig(
            kind=ProviderKind(credentials.provider),
            model=credentials.model,
            api_key=credentials.api_key,
            base_url=credentials.base_url,
            read_timeout=self.upstream_read_timeout,
            default_max_tokens=model.max_output_tokens,
        )
        return Target(registration=view, model=model, config=config)

    async def infos(self, org_id: str, ids: tuple[str, ...]) -> list[RegistrationInfo]:
        """Registrations with their catalog facts (for `svc.catalog.registrations`)."""
        async with self.database.sessions() as session:
            views = await self.repo.registrations_by_ids(session, org_id, ids)
        infos = []
        for view in views:
            model = find_model(view.catalog_key)
            if model is None:
                continue
            price, caps = model.price, model.capabilities
            cached = price.cached_input_per_million
            infos.append(
                RegistrationInfo(
                    id=view.id,
                    org_id=view.org_id,
                    name=view.name,
                    catalog_key=view.catalog_key,
                    provider=view.provider,
                    model=view.model,
                    base_url=view.base_url,
                    context_window=model.context_window,
                    max_output_tokens=model.max_output_tokens,
                    input_per_million=_money(price.input_per_million),
                    output_per_million=_money(price.output_per_million),
                    cached_input_per_million=_money(cached) if cached is not None else None,
                    supports_tools=caps.tools,
                    supports_vision=caps.vision,
                    supports_json_schema=caps.json_schema,
                    supports_streaming=caps.streaming,
                )
            )
        return infos
