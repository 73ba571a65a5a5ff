"""The router read models, updated from ROUTER events in the append's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

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
from hyperstrate_kit.eventstore import StoredEvent
from hyperstrate_router.infrastructure.tables import (
    PROJECTION_TABLES,
    ROUTER_CHILD_TABLES,
    router_configurations,
    router_features,
    router_interceptors,
    router_targets,
    routers,
)

__all__ = ["RouterProjection"]


class RouterProjection:
    """Routers, their targets, features, interceptors and configuration as tables."""

    tables: Sequence[Table] = PROJECTION_TABLES

    async def apply(self, session: AsyncSession, stored: StoredEvent) -> None:
        """Apply one event to the read model."""
        event = stored.event
        router_id, at = event.aggregate_id, event.occurred_at
        owned: dict[str, Any] = {"router_id": router_id, "org_id": event.org_id}
        match event:
            case RouterCreated():
                await session.execute(
                    insert(routers).values(
                        id=router_id,
                        org_id=event.org_id,
                        name=event.name,
                        description=event.description,
                        strategy=event.strategy,
                        enabled=event.enabled,
                        created_at=at,
                        updated_at=at,
                        version=stored.version,
                    )
                )
                return
            case RouterUpdated():
                await session.execute(
                    update(routers)
                    .where(routers.c.id == router_id)
                    .values(
                        name=event.name,
                        description=event.description,
                        strategy=event.strategy,
                        enabled=event.enabled,
                        updated_at=at,
                        version=stored.version,
                    )
                )
                return
            case RouterDeleted():
                for table in (*ROUTER_CHILD_TABLES, router_configurations):
                    await session.execute(delete(table).where(table.c.router_id == router_id))
                await session.execute(delete(routers).where(routers.c.id == router_id))
                return
            case RouterTargetAdded():
                await session.execute(
                    insert(router_targets).values(
                        id=event.target_id,
                        **owned,
                        **self._target_facts(event),
                        created_at=at,
                        updated_at=at,
                    )
                )
            case RouterTargetUpdated():
                await session.execute(
                    update(router_targets)
                    .where(router_targets.c.id == event.target_id)
                    .values(**self._target_facts(event), updated_at=at)
                )
            case RouterTargetRemoved():
                await session.execute(
                    delete(router_targets).where(router_targets.c.id == event.target_id)
                )
            case RouterFeatureSet():
                values = {"config": event.config, "enabled": event.enabled, "updated_at": at}
                await self._upsert(
                    session,
                    router_features,
                    router_features.c.id,
                    {"id": event.feature_id, **owned, "feature_type": event.feature_type},
                    values,
                    at,
                )
            case RouterFeatureRemoved():
                await session.execute(
                    delete(router_features).where(router_features.c.id == event.feature_id)
                )
            case RouterInterceptorSet():
                values = {
                    "config": event.config,
                    "enabled": event.enabled,
                    "run_order": event.order,
                    "updated_at": at,
                }
                await self._upsert(
                    session,
                    router_interceptors,
                    router_interceptors.c.id,
                    {
                        "id": event.interceptor_id,
                        **owned,
                        "interceptor_type": event.interceptor_type,
                    },
                    values,
                    at,
                )
            case RouterInterceptorRemoved():
                await session.execute(
                    delete(router_interceptors).where(
                        router_interceptors.c.id == event.interceptor_id
                    )
                )
            case RouterConfigured():
                values = {
                    "webhook_url": event.webhook_url,
                    "prompt_id": event.prompt_id,
                    "store_payloads": event.store_payloads,
                    "updated_at": at,
                }
                await self._upsert(
                    session,
                    router_configurations,
                    router_configurations.c.router_id,
                    owned,
                    values,
                    at,
                )
            case _:
                return
        # Whatever the router owns moves its stream on: the next append expects this version.
        await session.execute(
            update(routers).where(routers.c.id == router_id).values(version=stored.version)
        )

    @staticmethod
    def _target_facts(event: RouterTargetAdded | RouterTargetUpdated) -> dict[str, Any]:
        return {
            "registration_id": event.registration_id,
            "weight": event.weight,
            "percentage": event.percentage,
            "priority": event.priority,
            "enabled": event.enabled,
        }

    @staticmethod
    async def _upsert(
        session: AsyncSession,
        table: Table,
        key: Any,
        identity: dict[str, Any],
        values: dict[str, Any],
        at: Any,
    ) -> None:
        statement = pg_insert(table).values(**identity, **values, created_at=at)
        await session.execute(statement.on_conflict_do_update(index_elements=[key], set_=values))
