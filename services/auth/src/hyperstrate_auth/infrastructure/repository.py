"""Queries over the auth read models; every one is scoped by organisation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Select, Table, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_auth.application.dto import (
    ApiKeyView,
    OrganizationView,
    RouterAccessView,
    TeamView,
    UserView,
    VirtualKeyView,
)
from hyperstrate_auth.infrastructure.tables import (
    api_keys,
    key_usage,
    oidc_logins,
    organizations,
    refresh_tokens,
    router_team_access,
    teams,
    user_credentials,
    users,
    virtual_keys,
)
from hyperstrate_kit.http import PageParams

__all__ = ["AuthRepository", "PendingLogins", "SpentRefreshToken", "Versioned"]

V = TypeVar("V", bound=msgspec.Struct)


class Versioned(msgspec.Struct, frozen=True):
    """A row's id, organisation and aggregate version (for the next append)."""

    id: str
    org_id: str
    version: int


class SpentRefreshToken(msgspec.Struct, frozen=True):
    """A refresh token just revoked: whose it was, its family, and how it stood before."""

    user_id: str
    org_id: str
    family_id: str
    live: bool  # unexpired and unrevoked: a valid refresh
    reused: bool = False  # already spent by a refresh: someone else holds a copy


_SPENT_COLUMNS = (refresh_tokens.c.user_id, refresh_tokens.c.org_id, refresh_tokens.c.family_id)


def _family(row: Any, token_hash: str) -> str:
    # A token from before families is a family of its own, named after (not by) its hash.
    return row.family_id or f"sess_legacy_{token_hash[:32]}"


def _view(row: Any, view: type[V]) -> V:
    # Attribute access uses the Python field names, not the camelCase wire names.
    return msgspec.convert(row, view, from_attributes=True)


_API_KEY_COLUMNS = [*api_keys.c, key_usage.c.last_used_at]
_VIRTUAL_KEY_COLUMNS = [*virtual_keys.c, key_usage.c.last_used_at]


class AuthRepository:
    """Reads and small writes of the auth service's tables."""

    # -- generic ------------------------------------------------------------------------

    async def _page(
        self, session: AsyncSession, query: Select[Any], view: type[V], page: PageParams, order: Any
    ) -> tuple[list[V], int]:
        total = (
            await session.execute(select(func.count()).select_from(query.subquery()))
        ).scalar_one()
        rows = (
            await session.execute(query.order_by(order).offset(page.offset).limit(page.limit))
        ).all()
        return [_view(row, view) for row in rows], int(total)

    async def versioned(
        self, session: AsyncSession, table: Table, org_id: str, row_id: str, *, lock: bool = True
    ) -> Versioned | None:
        """The row's version, locked for the coming append; None if absent or another org's."""
        org_column = table.c.id if table is organizations else table.c.org_id
        query = select(table.c.id, org_column.label("org_id"), table.c.version).where(
            table.c.id == row_id, org_column == org_id
        )
        row = (await session.execute(query.with_for_update() if lock else query)).first()
        return Versioned(row.id, row.org_id, row.version) if row else None

    # -- organisations ------------------------------------------------------------------

    async def organization_count(self, session: AsyncSession) -> int:
        """How many organisations exist."""
        return int(
            (await session.execute(select(func.count()).select_from(organizations))).scalar_one()
        )

    async def organization(self, session: AsyncSession, org_id: str) -> OrganizationView | None:
        """One organisation."""
        row = (
            await session.execute(select(organizations).where(organizations.c.id == org_id))
        ).first()
        return _view(row, OrganizationView) if row else None

    async def organizations_of(
        self, session: AsyncSession, org_id: str, page: PageParams
    ) -> tuple[list[OrganizationView], int]:
        """The organisations the caller may see: its own."""
        query = select(organizations).where(organizations.c.id == org_id)
        return await self._page(session, query, OrganizationView, page, organizations.c.created_at)

    # -- users --------------------------------------------------------------------------

    async def user(self, session: AsyncSession, org_id: str, user_id: str) -> UserView | None:
        """One user of the organisation."""
        query = select(users).where(users.c.id == user_id, users.c.org_id == org_id)
        row = (await session.execute(query)).first()
        return _view(row, UserView) if row else None

    async def users_by_email(
        self, session: AsyncSession, email: str, org_id: str | None = None
    ) -> list[tuple[UserView, str]]:
        """The users with this email and their password hashes, oldest first: every
        organisation's (login), or one organisation's when `org_id` is given."""
        query = (
            select(users, user_credentials.c.password_hash)
            .join(user_credentials, user_credentials.c.user_id == users.c.id, isouter=True)
            .where(users.c.email == email)
            .order_by(users.c.created_at, users.c.id)
        )
        if org_id is not None:
            query = query.where(users.c.org_id == org_id)
        rows = (await session.execute(query)).all()
        return [(_view(row, UserView), row.password_hash or "") for row in rows]

    async def email_taken(self, session: AsyncSession, org_id: str, email: str) -> bool:
        """True when a user of the organisation has this email (other organisations' users
        are never consulted: e-mails are unique per organisation)."""
        query = select(literal(1)).where(users.c.email == email, users.c.org_id == org_id)
        return (await session.execute(query)).first() is not None

    async def users_of(
        self, session: AsyncSession, org_id: str, page: PageParams
    ) -> tuple[list[UserView], int]:
        """The organisation's users."""
        query = select(users).where(users.c.org_id == org_id)
        return await self._page(session, query, UserView, page, users.c.created_at)

    async def set_password(self, session: AsyncSession, user_id: str, password_hash: str) -> None:
        """Store a user's password hash."""
        statement = pg_insert(user_credentials).values(user_id=user_id, password_hash=password_hash)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[user_credentials.c.user_id], set_={"password_hash": password_hash}
            )
        )

    # -- teams --------------------------------------------------------------------------

    async def team(self, session: AsyncSession, org_id: str, team_id: str) -> TeamView | None:
        """One team (its usage comes from observability)."""
        query = select(*teams.c)
        row = (
            await session.execute(query.where(teams.c.id == team_id, teams.c.org_id == org_id))
        ).first()
        return _view(row, TeamView) if row else None

    async def teams_of(
        self, session: AsyncSession, org_id: str, page: PageParams
    ) -> tuple[list[TeamView], int]:
        """The organisation's teams."""
        query = select(*teams.c).where(teams.c.org_id == org_id)
        return await self._page(session, query, TeamView, page, teams.c.created_at)

    # -- keys ---------------------------------------------------------------------------

    def _api_key_query(self) -> Select[Any]:
        return select(*_API_KEY_COLUMNS).join(
            key_usage, key_usage.c.key_hash == api_keys.c.key_hash, isouter=True
        )

    async def api_key(self, session: AsyncSession, org_id: str, key_id: str) -> ApiKeyView | None:
        """One API key (never its secret)."""
        query = self._api_key_query().where(api_keys.c.id == key_id, api_keys.c.org_id == org_id)
        row = (await session.execute(query)).first()
        return _view(row, ApiKeyView) if row else None

    async def key_state(
        self, session: AsyncSession, table: Table, org_id: str, key_id: str
    ) -> tuple[Versioned, str, bool] | None:
        """An API or virtual key's version, hash and whether it is revoked (`table` says which),
        locked for an append."""
        query = select(
            table.c.id, table.c.org_id, table.c.version, table.c.key_hash, table.c.revoked_at
        ).where(table.c.id == key_id, table.c.org_id == org_id)
        row = (await session.execute(query.with_for_update())).first()
        if row is None:
            return None
        return Versioned(row.id, row.org_id, row.version), row.key_hash, row.revoked_at is not None

    async def api_keys_of(
        self, session: AsyncSession, org_id: str, page: PageParams, router_id: str | None = None
    ) -> tuple[list[ApiKeyView], int]:
        """The organisation's API keys, optionally those scoped to a router."""
        query = self._api_key_query().where(api_keys.c.org_id == org_id)
        if router_id:
            query = query.where(api_keys.c.router_ids.contains([router_id]))
        return await self._page(session, query, ApiKeyView, page, api_keys.c.created_at)

    def _virtual_key_query(self) -> Select[Any]:
        return select(*_VIRTUAL_KEY_COLUMNS).join(
            key_usage, key_usage.c.key_hash == virtual_keys.c.key_hash, isouter=True
        )

    async def virtual_key(
        self, session: AsyncSession, org_id: str, key_id: str
    ) -> VirtualKeyView | None:
        """One virtual key (never its secret)."""
        query = self._virtual_key_query().where(
            virtual_keys.c.id == key_id, virtual_keys.c.org_id == org_id
        )
        row = (await session.execute(query)).first()
        return _view(row, VirtualKeyView) if row else None

    async def virtual_keys_of(
        self, session: AsyncSession, org_id: str, page: PageParams, team_id: str | None = None
    ) -> tuple[list[VirtualKeyView], int]:
        """The organisation's virtual keys, optionally of one team."""
        query = self._virtual_key_query().where(virtual_keys.c.org_id == org_id)
        if team_id:
            query = query.where(virtual_keys.c.team_id == team_id)
        return await self._page(session, query, VirtualKeyView, page, virtual_keys.c.created_at)

    async def record_key_usage(self, session: AsyncSession, last_used: dict[str, datetime]) -> None:
        """Upsert last-used times in one statement (only ever moving forward)."""
        if not last_used:
            return
        rows = [{"key_hash": key_hash, "last_used_at": at} for key_hash, at in last_used.items()]
        statement = pg_insert(key_usage).values(rows)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[key_usage.c.key_hash],
                set_={
                    "last_used_at": func.greatest(
                        key_usage.c.last_used_at, statement.excluded.last_used_at
                    )
                },
            )
        )

    # -- router access ------------------------------------------------------------------

    async def router_access(
        self, session: AsyncSession, org_id: str, router_id: str
    ) -> list[RouterAccessView]:
        """The teams a router is restricted to (empty: open to the organisation)."""
        query = (
            select(router_team_access)
            .where(
                router_team_access.c.org_id == org_id, router_team_access.c.router_id == router_id
            )
            .order_by(router_team_access.c.created_at)
        )
        return [_view(row, RouterAccessView) for row in (await session.execute(query)).all()]

    # -- refresh tokens -----------------------------------------------------------------

    async def store_refresh_token(
        self,
        session: AsyncSession,
        token_hash: str,
        user_id: str,
        org_id: str,
        expires_at: datetime,
        family_id: str,
    ) -> None:
        """Remember a refresh token by its hash, in the family of the login it descends from."""
        await session.execute(
            insert(refresh_tokens).values(
                token_hash=token_hash,
                user_id=user_id,
                org_id=org_id,
                expires_at=expires_at,
                family_id=family_id,
            )
        )

    async def take_refresh_token(
        self, session: AsyncSession, token_hash: str, now: datetime, *, rotate: bool = False
    ) -> SpentRefreshToken | None:
        """Revoke a live refresh token (`rotate`: spent by a refresh, not a logout) and say
        whose it was; for one no longer live, whether a refresh had spent it. None when no
        such token was ever issued."""
        live = (
            update(refresh_tokens)
            .where(
                refresh_tokens.c.token_hash == token_hash,
                refresh_tokens.c.revoked_at.is_(None),
                refresh_tokens.c.expires_at > now,
            )
            .values(revoked_at=now, rotated_at=now if rotate else None)
            .returning(*_SPENT_COLUMNS, literal(False).label("reused"))
        )
        row = (await session.execute(live)).first()
        if row is None:
            spent = select(
                *_SPENT_COLUMNS, refresh_tokens.c.rotated_at.is_not(None).label("reused")
            ).where(refresh_tokens.c.token_hash == token_hash)
            row = (await session.execute(spent)).first()
            if row is None:
                return None
            return SpentRefreshToken(
                row.user_id, row.org_id, _family(row, token_hash), live=False, reused=row.reused
            )
        return SpentRefreshToken(row.user_id, row.org_id, _family(row, token_hash), live=True)

    async def revoke_refresh_family(
        self, session: AsyncSession, family_id: str, now: datetime
    ) -> int:
        """End every live token of a family; how many there were."""
        result = await session.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(refresh_tokens.c.token_hash)
        )
        return len(result.all())

    async def revoke_refresh_tokens_of(
        self, session: AsyncSession, user_id: str, now: datetime
    ) -> None:
        """End every session of a user (deleted or password changed)."""
        await session.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


class PendingLogins:
    """Provider logins waiting for their callback, in the `oidc_logins` table (10 minutes)."""

    ttl_seconds = 600

    def __init__(self, database: Any) -> None:
        self.database = database

    async def save(self, provider: str, pending: Any) -> None:
        """Remember a pending login by its state."""
        async with self.database.transaction() as session:
            await session.execute(
                insert(oidc_logins).values(
                    state=pending.state,
                    provider=provider,
                    nonce=pending.nonce,
                    code_verifier=pending.code_verifier,
                )
            )
            # Housekeeping: forget logins nobody finished.
            await session.execute(
                delete(oidc_logins).where(
                    oidc_logins.c.created_at
                    < func.now() - text(f"interval '{self.ttl_seconds} seconds'")
                )
            )

    async def take(self, provider: str, state: str) -> Any:
        """Remove and return a live pending login (single use)."""
        from hyperstrate_auth.infrastructure.authorization_code import PendingLogin

        async with self.database.transaction() as session:
            row = (
                await session.execute(
                    delete(oidc_logins)
                    .where(
                        oidc_logins.c.state == state,
                        oidc_logins.c.provider == provider,
                        oidc_logins.c.created_at
                        > func.now() - text(f"interval '{self.ttl_seconds} seconds'"),
                    )
                    .returning(
                        oidc_logins.c.state, oidc_logins.c.nonce, oidc_logins.c.code_verifier
                    )
                )
            ).first()
        if row is None:
            return None
        return PendingLogin(
            state=row.state, nonce=row.nonce, code_verifier=row.code_verifier, authorization_url=""
        )
