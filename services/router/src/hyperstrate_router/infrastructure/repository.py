"""Queries over the router read models; every one is scoped by organisation."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from sqlalchemy import Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_kit.http import PageParams
from hyperstrate_router.application.dto import (
    ConfigurationView,
    FeatureView,
    InterceptorView,
    RouterView,
    TargetView,
)
from hyperstrate_router.infrastructure.tables import (
    router_configurations,
    router_features,
    router_interceptors,
    router_targets,
    routers,
)

__all__ = ["LockedRouter", "RouterRepository"]

V = TypeVar("V", bound=msgspec.Struct)


class LockedRouter(msgspec.Struct, frozen=True):
    """A router row locked for an append: its stream version and the facts rules need."""

    id: str
    org_id: str
    name: str
    strategy: str
    version: int


def _view(row: Any, view: type[V]) -> V:
    # Attribute access uses the Python field names, not the camelCase wire names.
    return msgspec.convert(row, view, from_attributes=True)


_FEATURE_COLUMNS = [
    *(c for c in router_features.c if c.name != "feature_type"),
    router_features.c.feature_type.label("type"),
]
_INTERCEPTOR_COLUMNS = [
    *(c for c in router_interceptors.c if c.name not in ("interceptor_type", "run_order")),
    router_interceptors.c.interceptor_type.label("type"),
    router_interceptors.c.run_order.label("order"),
]
_TARGET_ORDER = (router_targets.c.priority, router_targets.c.created_at, router_targets.c.id)
_FEATURE_ORDER = (router_features.c.feature_type,)
_INTERCEPTOR_ORDER = (
    router_interceptors.c.run_order,
    router_interceptors.c.created_at,
    router_interceptors.c.id,
)


class RouterRepository:
    """Reads of the router service's tables."""

    async def _page(
        self,
        session: AsyncSession,
        query: Select[Any],
        view: type[V],
        page: PageParams | None,
        order: tuple[Any, ...],
    ) -> tuple[list[V], int]:
        ordered = query.order_by(*order)
        if page is None:
            rows = (await session.execute(ordered)).all()
            return [_view(row, view) for row in rows], len(rows)
        total = (
            await session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (await session.execute(ordered.offset(page.offset).limit(page.limit))).all()
        return [_view(row, view) for row in rows], int(total)

    # -- routers ------------------------------------------------------------------------

    async def locked_router(
        self, session: AsyncSession, org_id: str, router_id: str
    ) -> LockedRouter | None:
        """The router, locked for the coming append; None if absent or another org's."""
        query = (
            select(
                routers.c.id,
                routers.c.org_id,
                routers.c.name,
                routers.c.strategy,
                routers.c.version,
            )
            .where(routers.c.id == router_id, routers.c.org_id == org_id)
            .with_for_update()
        )
        row = (await session.execute(query)).first()
        return _view(row, LockedRouter) if row else None

    async def router(self, session: AsyncSession, org_id: str, router_id: str) -> RouterView | None:
        """One router of the organisation."""
        query = select(routers).where(routers.c.id == router_id, routers.c.org_id == org_id)
        row = (await session.execute(query)).first()
        return _view(row, RouterView) if row else None

    async def router_exists(self, session: AsyncSession, org_id: str, router_id: str) -> bool:
        """True when the organisation has this router."""
        query = select(literal(1)).where(routers.c.id == router_id, routers.c.org_id == org_id)
        return (await session.execute(query)).first() is not None

    async def name_taken(
        self, session: AsyncSession, org_id: str, name: str, except_id: str | None = None
    ) -> bool:
        """True when another router of the organisation has this name."""
        query = select(literal(1)).where(routers.c.org_id == org_id, routers.c.name == name)
        if except_id is not None:
            query = query.where(routers.c.id != except_id)
        return (await session.execute(query)).first() is not None

    async def routers_of(
        self,
        session: AsyncSession,
        org_id: str,
        page: PageParams,
        strategy: str | None = None,
        enabled: bool | None = None,
    ) -> tuple[list[RouterView], int]:
        """The organisation's routers, optionally of one strategy or enabled state."""
        query = select(routers).where(routers.c.org_id == org_id)
        if strategy is not None:
            query = query.where(routers.c.strategy == strategy)
        if enabled is not None:
            query = query.where(routers.c.enabled == enabled)
        return await self._page(
            session, query, RouterView, page, (routers.c.created_at, routers.c.id)
        )

    # -- targets ------------------------------------------------------------------------

    async def target(
        self, session: AsyncSession, org_id: str, router_id: str, target_id: str
    ) -> TargetView | None:
        """One target of one of the organisation's routers."""
        query = select(router_targets).where(
            router_targets.c.id == target_id,
            router_targets.c.router_id == router_id,
            router_targets.c.org_id == org_id,
        )
        row = (await session.execute(query)).first()
        return _view(row, TargetView) if row else None

    async def targets_of(
        self,
        session: AsyncSession,
        org_id: str,
        router_id: str,
        page: PageParams | None = None,
        registration_id: str | None = None,
        enabled: bool | None = None,
    ) -> tuple[list[TargetView], int]:
        """A router's targets by priority (all of them when `page` is None)."""
        query = select(router_targets).where(
            router_targets.c.router_id == router_id, router_targets.c.org_id == org_id
        )
        if registration_id is not None:
            query = query.where(router_targets.c.registration_id == registration_id)
        if enabled is not None:
            query = query.where(router_targets.c.enabled == enabled)
        return await self._page(session, query, TargetView, page, _TARGET_ORDER)

    # -- features -----------------------------------------------------------------------

    async def feature(
        self, session: AsyncSession, org_id: str, router_id: str, feature_type: str
    ) -> FeatureView | None:
        """A router's feature of one type."""
        query = select(*_FEATURE_COLUMNS).where(
            router_features.c.router_id == router_id,
            router_features.c.org_id == org_id,
            router_features.c.feature_type == feature_type,
        )
        row = (await session.execute(query)).first()
        return _view(row, FeatureView) if row else None

    async def features_of(
        self,
        session: AsyncSession,
        org_id: str,
        router_id: str,
        page: PageParams | None = None,
        enabled: bool | None = None,
    ) -> tuple[list[FeatureView], int]:
        """A router's features by type."""
        query = select(*_FEATURE_COLUMNS).where(
            router_features.c.router_id == router_id, router_features.c.org_id == org_id
        )
        if enabled is not None:
            query = query.where(router_features.c.enabled == enabled)
        return await self._page(session, query, FeatureView, page, _FEATURE_ORDER)

    # -- interceptors -------------------------------------------------------------------

    async def interceptor(
        self, session: AsyncSession, org_id: str, router_id: str, interceptor_id: str
    ) -> InterceptorView | None:
        """One interceptor of a router."""
        query = select(*_INTERCEPTOR_COLUMNS).where(
            router_interceptors.c.id == interceptor_id,
            router_interceptors.c.router_id == router_id,
            router_interceptors.c.org_id == org_id,
        )
        row = (await session.execute(query)).first()
        return _view(row, InterceptorView) if row else None

    async def interceptors_of(
        self,
        session: AsyncSession,
        org_id: str,
        router_id: str,
        page: PageParams | None = None,
        interceptor_type: str | None = None,
        enabled: bool | None = None,
    ) -> tuple[list[InterceptorView], int]:
        """A router's interceptors in the order they run."""
        query = select(*_INTERCEPTOR_COLUMNS).where(
            router_interceptors.c.router_id == router_id, router_interceptors.c.org_id == org_id
        )
        if interceptor_type is not None:
            query = query.where(router_interceptors.c.interceptor_type == interceptor_type)
        if enabled is not None:
            query = query.where(router_interceptors.c.enabled == enabled)
        return await self._page(session, query, InterceptorView, page, _INTERCEPTOR_ORDER)

    # -- configuration ------------------------------------------------------------------

    async def configuration(
        self, session: AsyncSession, org_id: str, router_id: str
    ) -> ConfigurationView:
        """A router's configuration; the defaults until it was first set."""
        query = select(router_configurations).where(
            router_configurations.c.router_id == router_id,
            router_configurations.c.org_id == org_id,
        )
        row = (await session.execute(query)).first()
        if row is None:
            return ConfigurationView(
                router_id=router_id,
                webhook_url=None,
                prompt_id=None,
                store_payloads=False,
                updated_at=None,
            )
        return _view(row, ConfigurationView)
