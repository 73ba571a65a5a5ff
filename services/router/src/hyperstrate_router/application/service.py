"""Router admin use cases: routers, targets, features, interceptors, configuration.

A router and everything it owns is one event stream (`router-<id>`). Every command takes the
service's append lock, then the router's row (its `version` is the stream's), checks the
rules, and appends in the same transaction; the projections update the read models there
too, so the view returned is the one just written. Every query is scoped by the caller's
organisation, and another organisation's router (or anything it owns) is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import Event
from hyperstrate_contracts.router import (
    RouterConfigured,
    RouterCreated,
    RouterDeleted,
    RouterFeatureRemoved,
    RouterFeatureSet,
    RouterInterceptorRemoved,
    RouterInterceptorSet,
    RouterTargetAdded,
    RouterTargetRemoved,
    RouterTargetUpdated,
    RouterUpdated,
)
from hyperstrate_kit.database import Database
from hyperstrate_kit.errors import ConflictError, InvalidInputError, NotFoundError
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams
from hyperstrate_kit.security import OutboundUrlGuard, UnsafeUrlError
from hyperstrate_kit.sessions import Principal
from hyperstrate_router.application import dto
from hyperstrate_router.application.ports import RegistrationLookup
from hyperstrate_router.domain.features import parse_feature_config
from hyperstrate_router.domain.interceptors import InterceptorConfig, parse_interceptor_config
from hyperstrate_router.domain.model import (
    DuplicateRouterName,
    DuplicateTarget,
    RouterNotFound,
    new_id,
    require_percentage_total,
    stream_id,
)
from hyperstrate_router.domain.typed_config import InvalidConfigError, config_to_dict
from hyperstrate_router.infrastructure.repository import LockedRouter, RouterRepository

__all__ = ["RouterAdminService"]


def _merge(current: dict[str, Any], changes: msgspec.Struct) -> dict[str, Any]:
    """`current` with the fields a PATCH body set (UNSET fields keep their value)."""
    merged = dict(current)
    for field in changes.__struct_fields__:
        value = getattr(changes, field)
        if value is not msgspec.UNSET:
            merged[field] = value
    return merged


class RouterAdminService:
    """The router service's admin application layer."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: RouterRepository,
        registrations: RegistrationLookup,
        url_guard: OutboundUrlGuard,
    ) -> None:
        self.database = database
        self.store = store
        self.repo = repository
        self.registrations = registrations
        self.url_guard = url_guard

    # -- shared -------------------------------------------------------------------------

    async def _locked(
        self, session: AsyncSession, principal: Principal, router_id: str
    ) -> LockedRouter:
        """The caller's router, locked for an append (else 404).

        The append lock comes first, always: every writer takes the two locks in the same
        order, and rules that read other rows (unique names) see a settled state.
        """
        await self.store.lock_appends(session)
        router = await self.repo.locked_router(session, principal.org_id, router_id)
        if router is None:
            raise RouterNotFound()
        return router

    async def _append(
        self, session: AsyncSession, router: LockedRouter, events: list[Event]
    ) -> None:
        await self.store.append(stream_id(router.id), router.version, events, session=session)

    async def _require_router(self, principal: Principal, router_id: str) -> None:
        async with self.database.sessions() as session:
            if not await self.repo.router_exists(session, principal.org_id, router_id):
                raise RouterNotFound()

    async def _require_registration(self, principal: Principal, registration_id: str) -> None:
        if not await self.registrations.exists(principal.org_id, registration_id):
            raise InvalidInputError(
                "unknown registration",
                {"registrationId": ["no such model registration in this organization"]},
            )

    # -- routers ------------------------------------------------------------------------

    async def create_router(self, principal: Principal, data: dto.RouterCreate) -> dto.RouterView:
        """A new router, without targets yet."""
        router_id = new_id("rtr")
        async with self.database.transaction() as session:
            await self.store.lock_appends(session)
            if await self.repo.name_taken(session, principal.org_id, data.name):
                raise DuplicateRouterName()
            event = RouterCreated(
                org_id=principal.org_id,
                aggregate_id=router_id,
                name=data.name,
                description=data.description,
                strategy=data.strategy,
                enabled=data.enabled,
            )
            await self.store.append(stream_id(router_id), 0, [event], session=session)
            view = await self.repo.router(session, principal.org_id, router_id)
        assert view is not None
        return view

    async def list_routers(
        self,
        principal: Principal,
        page: PageParams,
        strategy: str | None = None,
        enabled: bool | None = None,
    ) -> tuple[list[dto.RouterView], int]:
        """The organisation's routers."""
        async with self.database.sessions() as session:
            return await self.repo.routers_of(session, principal.org_id, page, strategy, enabled)

    async def get_router(self, principal: Principal, router_id: str) -> dto.RouterDetail:
        """One router with its targets, features, interceptors and configuration."""
        org_id = principal.org_id
        async with self.database.sessions() as session:
            router = await self.repo.router(session, org_id, router_id)
            if router is None:
                raise RouterNotFound()
            targets, _ = await self.repo.targets_of(session, org_id, router_id)
            features, _ = await self.repo.features_of(session, org_id, router_id)
            interceptors, _ = await self.repo.interceptors_of(session, org_id, router_id)
            configuration = await self.repo.configuration(session, org_id, router_id)
        return dto.RouterDetail(
            **msgspec.structs.asdict(router),
            targets=targets,
            features=features,
            interceptors=interceptors,
            configuration=configuration,
        )

    async def update_router(
        self, principal: Principal, router_id: str, data: dto.RouterUpdate
    ) -> dto.RouterView:
        """Rename a router, change its strategy, enable or disable it."""
        org_id = principal.org_id
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            current = await self.repo.router(session, org_id, router_id)
            assert current is not None
            merged = _merge(msgspec.structs.asdict(current), data)
            if merged["name"] != current.name and await self.repo.name_taken(
                session, org_id, merged["name"], except_id=router_id
            ):
                raise DuplicateRouterName()
            if merged["strategy"] != current.strategy:
                targets, _ = await self.repo.targets_of(session, org_id, router_id)
                require_percentage_total(
                    merged["strategy"],
                    (t.percentage for t in targets if t.enabled),
                    field="strategy",
                )
            event = RouterUpdated(
                org_id=org_id,
                aggregate_id=router_id,
                name=merged["name"],
                description=merged["description"],
                strategy=merged["strategy"],
                enabled=merged["enabled"],
            )
            await self._append(session, router, [event])
            view = await self.repo.router(session, org_id, router_id)
        assert view is not None
        return view

    async def delete_router(self, principal: Principal, router_id: str) -> None:
        """Delete a router and everything it owns."""
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            event = RouterDeleted(org_id=principal.org_id, aggregate_id=router_id)
            await self._append(session, router, [event])

    # -- targets ------------------------------------------------------------------------

    async def list_targets(
        self,
        principal: Principal,
        router_id: str,
        page: PageParams,
        registration_id: str | None = None,
        enabled: bool | None = None,
    ) -> tuple[list[dto.TargetView], int]:
        """A router's targets, by priority."""
        async with self.database.sessions() as session:
            if not await self.repo.router_exists(session, principal.org_id, router_id):
                raise RouterNotFound()
            return await self.repo.targets_of(
                session, principal.org_id, router_id, page, registration_id, enabled
            )

    async def get_target(
        self, principal: Principal, router_id: str, target_id: str
    ) -> dto.TargetView:
        """One target of a router."""
        async with self.database.sessions() as session:
            target = await self.repo.target(session, principal.org_id, router_id, target_id)
        if target is None:
            raise NotFoundError("target not found")
        return target

    async def add_target(
        self, principal: Principal, router_id: str, data: dto.TargetCreate
    ) -> dto.TargetView:
        """Add a model registration of the organisation as a target of the router."""
        await self._require_router(principal, router_id)
        await self._require_registration(principal, data.registration_id)
        target_id = new_id("tgt")
        org_id = principal.org_id
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            targets, _ = await self.repo.targets_of(session, org_id, router_id)
            if any(t.registration_id == data.registration_id for t in targets):
                raise DuplicateTarget()
            enabled = [t.percentage for t in targets if t.enabled]
            require_percentage_total(
                router.strategy, [*enabled, data.percentage] if data.enabled else enabled
            )
            event = RouterTargetAdded(
                org_id=org_id,
                aggregate_id=router_id,
                target_id=target_id,
                registration_id=data.registration_id,
                weight=data.weight,
                percentage=data.percentage,
                priority=data.priority,
                enabled=data.enabled,
            )
            await self._append(session, router, [event])
            view = await self.repo.target(session, org_id, router_id, target_id)
        assert view is not None
        return view

    async def update_target(
        self, principal: Principal, router_id: str, target_id: str, data: dto.TargetUpdate
    ) -> dto.TargetView:
        """Change a target's registration, weight, percentage, priority or state."""
        org_id = principal.org_id
        if data.registration_id is not msgspec.UNSET:
            await self.get_target(principal, router_id, target_id)  # 404 before 400
            await self._require_registration(principal, data.registration_id)
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            current = await self.repo.target(session, org_id, router_id, target_id)
            if current is None:
                raise NotFoundError("target not found")
            merged = _merge(msgspec.structs.asdict(current), data)
            others, _ = await self.repo.targets_of(session, org_id, router_id)
            others = [t for t in others if t.id != target_id]
            if any(t.registration_id == merged["registration_id"] for t in others):
                raise DuplicateTarget()
            enabled = [t.percentage for t in others if t.enabled]
            if merged["enabled"]:
                enabled.append(merged["percentage"])
            require_percentage_total(router.strategy, enabled)
            event = RouterTargetUpdated(
                org_id=org_id,
                aggregate_id=router_id,
                target_id=target_id,
                registration_id=merged["registration_id"],
                weight=merged["weight"],
                percentage=merged["percentage"],
                priority=merged["priority"],
                enabled=merged["enabled"],
            )
            await self._append(session, router, [event])
            view = await self.repo.target(session, org_id, router_id, target_id)
        assert view is not None
        return view

    async def remove_target(self, principal: Principal, router_id: str, target_id: str) -> None:
        """Remove a target from a router."""
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            if await self.repo.target(session, principal.org_id, router_id, target_id) is None:
                raise NotFoundError("target not found")
            event = RouterTargetRemoved(
                org_id=principal.org_id, aggregate_id=router_id, target_id=target_id
            )
            await self._append(session, router, [event])

    # -- features -----------------------------------------------------------------------

    async def list_features(
        self,
        principal: Principal,
        router_id: str,
        page: PageParams,
        enabled: bool | None = None,
    ) -> tuple[list[dto.FeatureView], int]:
        """A router's features, by type."""
        async with self.database.sessions() as session:
            if not await self.repo.router_exists(session, principal.org_id, router_id):
                raise RouterNotFound()
            return await self.repo.features_of(session, principal.org_id, router_id, page, enabled)

    async def get_feature(
        self, principal: Principal, router_id: str, feature_type: str
    ) -> dto.FeatureView:
        """A router's feature of one type."""
        async with self.database.sessions() as session:
            feature = await self.repo.feature(session, principal.org_id, router_id, feature_type)
        if feature is None:
            raise NotFoundError("feature not found")
        return feature

    async def add_feature(
        self, principal: Principal, router_id: str, data: dto.FeatureCreate
    ) -> dto.FeatureView:
        """Add a feature of a type the router does not have yet (else 409)."""
        return await self._set_feature(
            principal, router_id, data.type, data.config, data.enabled, replace=False
        )

    async def set_feature(
        self, principal: Principal, router_id: str, feature_type: str, data: dto.FeatureSet
    ) -> dto.FeatureView:
        """Create or replace the router's feature of `feature_type`."""
        return await self._set_feature(
            principal, router_id, feature_type, data.config, data.enabled, replace=True
        )

    async def _set_feature(
        self,
        principal: Principal,
        router_id: str,
        feature_type: str,
        config: Mapping[str, Any],
        enabled: bool,
        *,
        replace: bool,
    ) -> dto.FeatureView:
        canonical = config_to_dict(parse_feature_config(feature_type, config))
        org_id = principal.org_id
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            current = await self.repo.feature(session, org_id, router_id, feature_type)
            if current is not None and not replace:
                raise ConflictError(
                    f"the router already has a {feature_type} feature",
                    {"type": [f"already set: PUT features/{feature_type} to change it"]},
                )
            feature_id = current.id if current is not None else new_id("feat")
            event = RouterFeatureSet(
                org_id=org_id,
                aggregate_id=router_id,
                feature_id=feature_id,
                feature_type=feature_type,  # type: ignore[arg-type]  # parsed: a FeatureType
                config=canonical,
                enabled=enabled,
            )
            await self._append(session, router, [event])
            view = await self.repo.feature(session, org_id, router_id, feature_type)
        assert view is not None
        return view

    async def remove_feature(self, principal: Principal, router_id: str, feature_type: str) -> None:
        """Remove the router's feature of `feature_type`."""
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            current = await self.repo.feature(session, principal.org_id, router_id, feature_type)
            if current is None:
                raise NotFoundError("feature not found")
            event = RouterFeatureRemoved(
                org_id=principal.org_id,
                aggregate_id=router_id,
                feature_id=current.id,
                feature_type=current.type,
            )
            await self._append(session, router, [event])

    # -- interceptors -------------------------------------------------------------------

    async def list_interceptors(
        self,
        principal: Principal,
        router_id: str,
        page: PageParams,
        interceptor_type: str | None = None,
        enabled: bool | None = None,
    ) -> tuple[list[dto.InterceptorView], int]:
        """A router's interceptors, in the order they run."""
        async with self.database.sessions() as session:
            if not await self.repo.router_exists(session, principal.org_id, router_id):
                raise RouterNotFound()
            return await self.repo.interceptors_of(
                session, principal.org_id, router_id, page, interceptor_type, enabled
            )

    async def get_interceptor(
        self, principal: Principal, router_id: str, interceptor_id: str
    ) -> dto.InterceptorView:
        """One interceptor of a router."""
        async with self.database.sessions() as session:
            found = await self.repo.interceptor(
                session, principal.org_id, router_id, interceptor_id
            )
        if found is None:
            raise NotFoundError("interceptor not found")
        return found

    async def _check_target_references(
        self, session: AsyncSession, org_id: str, router_id: str, config: InterceptorConfig
    ) -> None:
        references = config.target_references()
        if not references:
            return
        targets, _ = await self.repo.targets_of(session, org_id, router_id)
        known = {t.id for t in targets}
        missing = {
            f"config.{path}": ["no such target on this router"]
            for path, target_id in references.items()
            if target_id not in known
        }
        if missing:
            raise InvalidConfigError(f"invalid {next(iter(missing))}: unknown target", missing)

    async def add_interceptor(
        self, principal: Principal, router_id: str, data: dto.InterceptorCreate
    ) -> dto.InterceptorView:
        """Add an interceptor to the router."""
        config = parse_interceptor_config(data.type, data.config)
        interceptor_id = new_id("icp")
        org_id = principal.org_id
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            await self._check_target_references(session, org_id, router_id, config)
            event = RouterInterceptorSet(
                org_id=org_id,
                aggregate_id=router_id,
                interceptor_id=interceptor_id,
                interceptor_type=data.type,
                config=config_to_dict(config),
                enabled=data.enabled,
                order=data.order,
            )
            await self._append(session, router, [event])
            view = await self.repo.interceptor(session, org_id, router_id, interceptor_id)
        assert view is not None
        return view

    async def update_interceptor(
        self,
        principal: Principal,
        router_id: str,
        interceptor_id: str,
        data: dto.InterceptorUpdate,
    ) -> dto.InterceptorView:
        """Replace an interceptor's config, or change its order or state."""
        org_id = principal.org_id
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            current = await self.repo.interceptor(session, org_id, router_id, interceptor_id)
            if current is None:
                raise NotFoundError("interceptor not found")
            config = current.config
            if data.config is not msgspec.UNSET:
                parsed = parse_interceptor_config(current.type, data.config)
                await self._check_target_references(session, org_id, router_id, parsed)
                config = config_to_dict(parsed)
            merged = _merge(msgspec.structs.asdict(current), data)
            event = RouterInterceptorSet(
                org_id=org_id,
                aggregate_id=router_id,
                interceptor_id=interceptor_id,
                interceptor_type=current.type,
                config=config,
                enabled=merged["enabled"],
                order=merged["order"],
            )
            await self._append(session, router, [event])
            view = await self.repo.interceptor(session, org_id, router_id, interceptor_id)
        assert view is not None
        return view

    async def remove_interceptor(
        self, principal: Principal, router_id: str, interceptor_id: str
    ) -> None:
        """Remove an interceptor from the router."""
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            found = await self.repo.interceptor(
                session, principal.org_id, router_id, interceptor_id
            )
            if found is None:
                raise NotFoundError("interceptor not found")
            event = RouterInterceptorRemoved(
                org_id=principal.org_id, aggregate_id=router_id, interceptor_id=interceptor_id
            )
            await self._append(session, router, [event])

    # -- configuration ------------------------------------------------------------------

    async def get_configuration(
        self, principal: Principal, router_id: str
    ) -> dto.ConfigurationView:
        """The router's configuration (defaults until first set)."""
        async with self.database.sessions() as session:
            if not await self.repo.router_exists(session, principal.org_id, router_id):
                raise RouterNotFound()
            return await self.repo.configuration(session, principal.org_id, router_id)

    async def configure(
        self, principal: Principal, router_id: str, data: dto.ConfigurationSet
    ) -> dto.ConfigurationView:
        """Set the router's webhook, linked prompt and payload storage."""
        if data.webhook_url is not None:
            try:
                self.url_guard.check_literal(data.webhook_url)
            except UnsafeUrlError as exc:
                raise InvalidInputError(
                    f"invalid webhookUrl: {exc.reason}", {"webhookUrl": [exc.reason]}
                ) from None
        async with self.database.transaction() as session:
            router = await self._locked(session, principal, router_id)
            event = RouterConfigured(
                org_id=principal.org_id,
                aggregate_id=router_id,
                webhook_url=data.webhook_url,
                prompt_id=data.prompt_id,
                store_payloads=data.store_payloads,
            )
            await self._append(session, router, [event])
            return await self.repo.configuration(session, principal.org_id, router_id)
