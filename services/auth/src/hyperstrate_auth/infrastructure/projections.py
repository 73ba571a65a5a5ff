"""The auth read models, updated from events in the append's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_auth.infrastructure.tables import (
    PROJECTION_TABLES,
    api_keys,
    organizations,
    router_team_access,
    teams,
    users,
    virtual_keys,
)
from hyperstrate_contracts.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
    OrganizationCreated,
    OrganizationDeleted,
    OrganizationUpdated,
    RouterTeamAccessGranted,
    RouterTeamAccessRevoked,
    TeamCreated,
    TeamDeleted,
    TeamUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
    VirtualKeyCreated,
    VirtualKeyRevoked,
    VirtualKeyUpdated,
)
from hyperstrate_kit.eventstore import StoredEvent, row_stamps, update_row

__all__ = ["AuthProjection"]


class AuthProjection:
    """Organisations, users, teams, keys and router access as tables."""

    tables: Sequence[Table] = PROJECTION_TABLES

    async def apply(self, session: AsyncSession, stored: StoredEvent) -> None:
        """Apply one event to the read model."""
        event = stored.event
        at = event.occurred_at
        created, stamp = row_stamps(stored)
        match event:
            case OrganizationCreated():
                await session.execute(
                    insert(organizations).values(
                        id=event.aggregate_id, name=event.name, created_at=at, **stamp
                    )
                )
            case OrganizationUpdated():
                await update_row(
                    session, organizations, event.aggregate_id, name=event.name, **stamp
                )
            case OrganizationDeleted():
                await self._delete_organization(session, event.org_id)
            case UserCreated():
                await session.execute(
                    insert(users).values(
                        email=event.email,
                        name=event.name,
                        role=event.role,
                        team_id=event.team_id,
                        **created,
                    )
                )
            case UserUpdated():
                await update_row(
                    session,
                    users,
                    event.aggregate_id,
                    name=event.name,
                    role=event.role,
                    team_id=event.team_id,
                    disabled=event.disabled,
                    **stamp,
                )
            case UserDeleted():
                await session.execute(delete(users).where(users.c.id == event.aggregate_id))
            case TeamCreated():
                await session.execute(
                    insert(teams).values(
                        name=event.name,
                        max_requests=event.max_requests,
                        max_cost_usd=event.max_cost_usd,
                        **created,
                    )
                )
            case TeamUpdated():
                await update_row(
                    session,
                    teams,
                    event.aggregate_id,
                    name=event.name,
                    max_requests=event.max_requests,
                    max_cost_usd=event.max_cost_usd,
                    **stamp,
                )
            case TeamDeleted():
                await session.execute(delete(teams).where(teams.c.id == event.aggregate_id))
            case ApiKeyCreated():
                await session.execute(
                    insert(api_keys).values(
                        user_id=event.user_id,
                        name=event.name,
                        prefix=event.prefix,
                        key_hash=event.key_hash,
                        router_ids=list(event.router_ids),
                        expires_at=event.expires_at,
                        **created,
                    )
                )
            case ApiKeyRevoked():
                await update_row(session, api_keys, event.aggregate_id, revoked_at=at, **stamp)
            case VirtualKeyCreated():
                await session.execute(
                    insert(virtual_keys).values(
                        name=event.name,
                        prefix=event.prefix,
                        key_hash=event.key_hash,
                        team_id=event.team_id,
                        max_requests=event.max_requests,
                        max_cost_usd=event.max_cost_usd,
                        reset_period=event.reset_period,
                        rate_limit_rps=event.rate_limit_rps,
                        router_ids=list(event.router_ids),
                        expires_at=event.expires_at,
                        **created,
                    )
                )
            case VirtualKeyUpdated():
                await update_row(
                    session,
                    virtual_keys,
                    event.aggregate_id,
                    name=event.name,
                    team_id=event.team_id,
                    max_requests=event.max_requests,
                    max_cost_usd=event.max_cost_usd,
                    reset_period=event.reset_period,
                    rate_limit_rps=event.rate_limit_rps,
                    router_ids=list(event.router_ids),
                    expires_at=event.expires_at,
                    **stamp,
                )
            case VirtualKeyRevoked():
                await update_row(session, virtual_keys, event.aggregate_id, revoked_at=at, **stamp)
            case RouterTeamAccessGranted():
                await session.execute(
                    insert(router_team_access).values(
                        router_id=event.aggregate_id,
                        team_id=event.team_id,
                        org_id=event.org_id,
                        created_at=at,
                    )
                )
            case RouterTeamAccessRevoked():
                await session.execute(
                    delete(router_team_access).where(
                        router_team_access.c.router_id == event.aggregate_id,
                        router_team_access.c.team_id == event.team_id,
                    )
                )

    @staticmethod
    async def _delete_organization(session: AsyncSession, org_id: str) -> None:
        for table in (router_team_access, virtual_keys, api_keys, teams, users):
            await session.execute(delete(table).where(table.c.org_id == org_id))
        await session.execute(delete(organizations).where(organizations.c.id == org_id))
