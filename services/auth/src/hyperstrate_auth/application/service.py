"""Auth use cases: setup, sessions, organisations, users, teams, keys, router access.

Every command appends events (their projections update the read models in the same
transaction); every query is scoped by the caller's organisation, and another
organisation's resource is a 404.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_auth.application import dto
from hyperstrate_auth.application.ports import KnownRouters, PasswordHasher, TeamUsage
from hyperstrate_auth.application.throttle import LoginThrottle
from hyperstrate_auth.domain.model import (
    EmailAlreadyUsed,
    InvalidCredentials,
    SetupAlreadyCompleted,
    new_id,
    normalise_email,
    stream_id,
)
from hyperstrate_auth.infrastructure.repository import AuthRepository, SpentRefreshToken
from hyperstrate_auth.infrastructure.tables import (
    api_keys,
    organizations,
    teams,
    users,
    virtual_keys,
)
from hyperstrate_contracts import Event
from hyperstrate_contracts.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
    OrganizationCreated,
    OrganizationDeleted,
    OrganizationUpdated,
    RefreshTokenReused,
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
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import acting_as, system_actor
from hyperstrate_kit.database import Database
from hyperstrate_kit.errors import ConflictError, InvalidInputError, NotFoundError
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import PageParams
from hyperstrate_kit.security import generate_key, hash_key
from hyperstrate_kit.sessions import ACCESS_TOKEN_TTL_SECONDS, Principal, issue_access_token

__all__ = ["AuthService"]

log = logging.getLogger("hyperstrate.auth")

REFRESH_TOKEN_TTL = timedelta(days=30)


def _now() -> datetime:
    return datetime.now(UTC)


def _merge(current: dict[str, Any], changes: msgspec.Struct) -> dict[str, Any]:
    """`current` with the fields a PATCH body set (UNSET fields keep their value)."""
    merged = dict(current)
    for field in changes.__struct_fields__:
        value = getattr(changes, field)
        if value is not msgspec.UNSET:
            merged[field] = value
    return merged


class AuthService:
    """The auth service's application layer."""

    def __init__(
        self,
        database: Database,
        store: EventStore,
        repository: AuthRepository,
        passwords: PasswordHasher,
        *,
        jwt_secret: str,
        admin_email: str = "",
        team_usage: TeamUsage | None = None,
        throttle: LoginThrottle | None = None,
        routers: KnownRouters | None = None,
    ) -> None:
        self.database = database
        self.team_usage = team_usage
        self.throttle = throttle  # None (the operator's CLI): logins are not throttled
        self.routers = routers  # None (the operator's CLI): router ids are not checked
        self.store = store
        self.repo = repository
        self.passwords = passwords
        self.jwt_secret = jwt_secret
        self.admin_email = normalise_email(admin_email) if admin_email else ""

    # -- setup and sessions -------------------------------------------------------------

    async def setup_status(self) -> dto.SetupStatus:
        """Whether the first organisation still has to be created."""
        async with self.database.sessions() as session:
            return dto.SetupStatus(setup_required=await self.repo.organization_count(session) == 0)

    async def setup(self, data: dto.SetupInput) -> dto.Session:
        """Create the first organisation and its admin; closed once any organisation exists."""
        async with self.database.transaction() as session:
            # Serialise concurrent setups: the second one then sees the first's organisation.
            await self.store.lock_appends(session)
            if await self.repo.organization_count(session) > 0:
                raise SetupAlreadyCompleted()
            admin_id = new_id("usr")
            with acting_as(Actor(kind="user", id=admin_id)):  # who sets up becomes this admin
                _, user = await self._create_organization(
                    session, data.organization_name, data.email, data.password, data.name, admin_id
                )
            return await self._open_session(session, user)

    async def login(self, data: dto.LoginInput, client_address: str = "") -> dto.Session:
        """Password login; a wrong password and an unknown email answer alike, throttled
        alike (per account and per `client_address`)."""
        email = normalise_email(data.email)
        if self.throttle is not None:
            await self.throttle.check(email, client_address)
        try:
            async with self.database.transaction() as session:
                user = await self._password_user(session, email, data)
                opened = await self._open_session(session, user)
        except InvalidCredentials:
            if self.throttle is not None:
                await self.throttle.failed(email, client_address)
            raise
        if self.throttle is not None:
            await self.throttle.succeeded(email)
        return opened

    async def _password_user(
        self, session: AsyncSession, email: str, data: dto.LoginInput
    ) -> dto.UserView:
        """The account this password opens. E-mails are unique per organisation only: the
        password chooses among the organisations' accounts (`organizationId` narrows them;
        the oldest wins a tie), and every one is tried so none is disclosed by being first."""
        candidates = [
            (user, password_hash)
            for user, password_hash in await self.repo.users_by_email(
                session, email, data.organization_id
            )
            if password_hash
        ]
        if not candidates:
            await asyncio.to_thread(self.passwords.verify_dummy, data.password)
            raise InvalidCredentials()
        # In parallel threads (argon2 releases the GIL): the wall time hardly grows with
        # the number of accounts, and the event loop is not blocked meanwhile.
        verified = await asyncio.gather(
            *(
                asyncio.to_thread(self.passwords.verify, password_hash, data.password)
                for _, password_hash in candidates
            )
        )
        opened = [user for (user, _), ok in zip(candidates, verified, strict=True) if ok]
        if not opened:
            raise InvalidCredentials()
        return opened[0]

    async def refresh(self, data: dto.RefreshInput) -> dto.Session:
        """Trade a live refresh token for a new session of the same family (the old token
        is spent). A spent token presented again ends its whole family: whoever holds the
        newer token has to log in again, and the audit log records the reuse."""
        async with self.database.transaction() as session:
            spent = await self.repo.take_refresh_token(
                session, hash_key(data.refresh_token), _now(), rotate=True
            )
            if spent is not None and spent.reused:
                await self._end_reused_family(session, spent)
            elif spent is not None and spent.live:
                user = await self.repo.user(session, spent.org_id, spent.user_id)
                if user is not None:
                    return await self._open_session(session, user, spent.family_id)
        raise InvalidCredentials("invalid or expired refresh token")

    async def _end_reused_family(self, session: AsyncSession, spent: SpentRefreshToken) -> None:
        ended = await self.repo.revoke_refresh_family(session, spent.family_id, _now())
        stream = stream_id("session", spent.family_id)
        await self.store.lock_appends(session)  # two replays at once: versions in turn
        version = await self.store.stream_version(stream, session=session)
        event = RefreshTokenReused(
            org_id=spent.org_id,
            aggregate_id=spent.family_id,
            user_id=spent.user_id,
            sessions_ended=ended,
        )
        with acting_as(system_actor("refresh-token-reuse")):  # nobody signed in did this
            await self.store.append(stream, version, [event], session=session)
        log.warning(
            "refresh token reuse: session family %s of user %s ended (%d live token(s))",
            spent.family_id, spent.user_id, ended,
        )  # fmt: skip

    async def logout(self, data: dto.RefreshInput) -> None:
        """Revoke a refresh token (idempotent)."""
        async with self.database.transaction() as session:
            await self.repo.take_refresh_token(session, hash_key(data.refresh_token), _now())

    async def find_or_create_oidc_user(
        self, email: str, name: str, organization_id: str
    ) -> dto.UserView | None:
        """The user with this verified email: the account in the provider's
        `organization_id` when there is one, else the oldest in any organisation, else a
        new member of `organization_id` (None without one: an admin must create it)."""
        email = normalise_email(email)
        async with self.database.transaction() as session:
            found = [user for user, _ in await self.repo.users_by_email(session, email)]
            preferred = [user for user in found if user.org_id == organization_id]
            if preferred or found:
                return (preferred or found)[0]
            if (
                not organization_id
                or await self.repo.organization(session, organization_id) is None
            ):
                return None
            password = secrets.token_urlsafe(32)  # never told to anyone: OIDC-only account
            user_id = new_id("usr")
            with acting_as(Actor(kind="user", id=user_id)):  # the first login makes the account
                return await self._create_user(
                    session, organization_id, email, password, name[:255] or email, "member",
                    None, user_id,
                )  # fmt: skip

    async def session_for_user(self, user: dto.UserView) -> dto.Session:
        """A session for an already authenticated user (OIDC)."""
        async with self.database.transaction() as session:
            return await self._open_session(session, user)

    async def _open_session(
        self, session: AsyncSession, user: dto.UserView, family_id: str | None = None
    ) -> dto.Session:
        """A new access token and refresh token; a login starts a family, a refresh
        continues its own."""
        if user.disabled:  # the same answer as a wrong password, for a login and a refresh
            raise InvalidCredentials()
        role = "admin" if self.admin_email and user.email == self.admin_email else user.role
        principal = Principal(org_id=user.org_id, user_id=user.id, role=role, email=user.email)
        refresh_token = secrets.token_urlsafe(32)
        await self.repo.store_refresh_token(
            session,
            hash_key(refresh_token),
            user.id,
            user.org_id,
            _now() + REFRESH_TOKEN_TTL,
            family_id or new_id("sess"),
        )
        return dto.Session(
            access_token=issue_access_token(principal, self.jwt_secret),
            refresh_token=refresh_token,
            token_type="Bearer",
            expires_in=ACCESS_TOKEN_TTL_SECONDS,
            user=msgspec.structs.replace(user, role=role),
        )

    # -- organisations ------------------------------------------------------------------

    async def _create_organization(
        self,
        session: AsyncSession,
        name: str,
        email: str,
        password: str,
        admin_name: str,
        admin_id: str | None = None,
    ) -> tuple[str, dto.UserView]:
        org_id = new_id("org")
        await self.store.append(
            stream_id("organization", org_id),
            0,
            [OrganizationCreated(org_id=org_id, aggregate_id=org_id, name=name)],
            session=session,
        )
        user = await self._create_user(
            session, org_id, email, password, admin_name, "admin", None, admin_id
        )
        return org_id, user

    async def create_organization(self, data: dto.OrganizationCreate) -> dto.OrganizationView:
        """A new organisation (a separate tenant) with its first admin."""
        async with self.database.transaction() as session:
            org_id, _ = await self._create_organization(
                session, data.name, data.admin_email, data.admin_password, data.admin_name
            )
            view = await self.repo.organization(session, org_id)
        assert view is not None
        return view

    async def list_organizations(
        self, principal: Principal, page: PageParams
    ) -> tuple[list[dto.OrganizationView], int]:
        """The organisations the caller may see."""
        async with self.database.sessions() as session:
            return await self.repo.organizations_of(session, principal.org_id, page)

    async def get_organization(self, principal: Principal, org_id: str) -> dto.OrganizationView:
        """The caller's organisation (any other is a 404)."""
        async with self.database.sessions() as session:
            view = (
                await self.repo.organization(session, org_id)
                if org_id == principal.org_id
                else None
            )
        if view is None:
            raise NotFoundError("organization not found")
        return view

    async def update_organization(
        self, principal: Principal, org_id: str, data: dto.OrganizationUpdate
    ) -> dto.OrganizationView:
        """Rename the caller's organisation."""
        await self._append_to_existing(
            principal,
            organizations,
            org_id,
            "organization",
            lambda row: [OrganizationUpdated(org_id=org_id, aggregate_id=org_id, name=data.name)],
        )
        return await self.get_organization(principal, org_id)

    async def delete_organization(self, principal: Principal, org_id: str) -> None:
        """Delete the caller's organisation and, with it, every user, team and key in it."""
        await self._append_to_existing(
            principal,
            organizations,
            org_id,
            "organization",
            lambda row: [OrganizationDeleted(org_id=org_id, aggregate_id=org_id)],
        )

    # -- users --------------------------------------------------------------------------

    async def _create_user(
        self,
        session: AsyncSession,
        org_id: str,
        email: str,
        password: str,
        name: str,
        role: dto.Role,
        team_id: str | None,
        user_id: str | None = None,
    ) -> dto.UserView:
        email = normalise_email(email)
        if await self.repo.email_taken(session, org_id, email):
            raise EmailAlreadyUsed(fields={"email": ["already used"]})
        if team_id is not None:
            await self._require_team(session, org_id, team_id)
        user_id = user_id or new_id("usr")
        await self.store.append(
            stream_id("user", user_id),
            0,
            [
                UserCreated(
                    org_id=org_id,
                    aggregate_id=user_id,
                    email=email,
                    name=name,
                    role=role,
                    team_id=team_id,
                )
            ],
            session=session,
        )
        await self.repo.set_password(session, user_id, self.passwords.hash(password))
        user = await self.repo.user(session, org_id, user_id)
        assert user is not None
        return user

    async def create_user(self, principal: Principal, data: dto.UserCreate) -> dto.UserView:
        """A new user of the caller's organisation."""
        async with self.database.transaction() as session:
            return await self._create_user(
                session,
                principal.org_id,
                data.email,
                data.password,
                data.name,
                data.role,
                data.team_id,
            )

    async def list_users(
        self, principal: Principal, page: PageParams
    ) -> tuple[list[dto.UserView], int]:
        """The organisation's users."""
        async with self.database.sessions() as session:
            return await self.repo.users_of(session, principal.org_id, page)

    async def get_user(self, principal: Principal, user_id: str) -> dto.UserView:
        """One user of the organisation."""
        async with self.database.sessions() as session:
            user = await self.repo.user(session, principal.org_id, user_id)
        if user is None:
            raise NotFoundError("user not found")
        return user

    async def update_user(
        self, principal: Principal, user_id: str, data: dto.UserUpdate
    ) -> dto.UserView:
        """Change a user's name, role, team, password or disabled state."""
        async with self.database.transaction() as session:
            current = await self.repo.user(session, principal.org_id, user_id)
            if current is None:
                raise NotFoundError("user not found")
            if data.disabled is True and user_id == principal.user_id:
                # Nobody locks themselves out: another admin has to do it.
                raise InvalidInputError(
                    "you cannot disable yourself", {"disabled": ["cannot disable yourself"]}
                )
            merged = _merge(msgspec.structs.asdict(current), data)
            if merged["team_id"] is not None:
                await self._require_team(session, principal.org_id, merged["team_id"])
            row = await self.repo.versioned(session, users, principal.org_id, user_id)
            assert row is not None
            await self.store.append(
                stream_id("user", user_id),
                row.version,
                [
                    UserUpdated(
                        org_id=principal.org_id,
                        aggregate_id=user_id,
                        name=merged["name"],
                        role=merged["role"],
                        team_id=merged["team_id"],
                        disabled=merged["disabled"],
                    )
                ],
                session=session,
            )
            if data.password is not msgspec.UNSET:
                await self.repo.set_password(session, user_id, self.passwords.hash(data.password))
            if data.password is not msgspec.UNSET or (merged["disabled"] and not current.disabled):
                await self.repo.revoke_refresh_tokens_of(session, user_id, _now())
            user = await self.repo.user(session, principal.org_id, user_id)
        assert user is not None
        return user

    async def update_profile(self, principal: Principal, data: dto.ProfileUpdate) -> dto.UserView:
        """The caller changes their own name or password (never their role)."""
        changes = dto.UserUpdate(name=data.name, password=data.password)
        return await self.update_user(principal, principal.user_id, changes)

    async def delete_user(self, principal: Principal, user_id: str) -> None:
        """Delete a user; their API keys stop working and their sessions end."""
        await self._append_to_existing(
            principal,
            users,
            user_id,
            "user",
            lambda row: [UserDeleted(org_id=principal.org_id, aggregate_id=user_id)],
        )

    # -- teams --------------------------------------------------------------------------

    async def _require_team(self, session: AsyncSession, org_id: str, team_id: str) -> None:
        if await self.repo.versioned(session, teams, org_id, team_id, lock=False) is None:
            raise InvalidInputError(
                "unknown team", {"teamId": ["no such team in this organization"]}
            )

    async def create_team(self, principal: Principal, data: dto.TeamCreate) -> dto.TeamView:
        """A new team with optional request and cost caps."""
        team_id = new_id("team")
        await self.store.append(
            stream_id("team", team_id),
            0,
            [
                TeamCreated(
                    org_id=principal.org_id,
                    aggregate_id=team_id,
                    name=data.name,
                    max_requests=data.max_requests,
                    max_cost_usd=data.max_cost_usd,
                )
            ],
        )
        return await self.get_team(principal, team_id)

    async def list_teams(
        self, principal: Principal, page: PageParams
    ) -> tuple[list[dto.TeamView], int]:
        """The organisation's teams, with what their caps count."""
        async with self.database.sessions() as session:
            items, total = await self.repo.teams_of(session, principal.org_id, page)
        return await self._with_usage(principal.org_id, items), total

    async def get_team(self, principal: Principal, team_id: str) -> dto.TeamView:
        """One team, with what its caps count."""
        async with self.database.sessions() as session:
            team = await self.repo.team(session, principal.org_id, team_id)
        if team is None:
            raise NotFoundError("team not found")
        return (await self._with_usage(principal.org_id, [team]))[0]

    async def _with_usage(self, org_id: str, items: list[dto.TeamView]) -> list[dto.TeamView]:
        if self.team_usage is None or not items:
            return items
        spent = await self.team_usage.spent(org_id, [team.id for team in items])
        if spent is None:
            return items
        return [
            msgspec.structs.replace(
                team,
                used_requests=spent.get(team.id, (0, 0.0))[0],
                used_cost_usd=spent.get(team.id, (0, 0.0))[1],
            )
            for team in items
        ]

    async def update_team(
        self, principal: Principal, team_id: str, data: dto.TeamUpdate
    ) -> dto.TeamView:
        """Rename a team or change its caps."""
        current = msgspec.structs.asdict(await self.get_team(principal, team_id))
        merged = _merge(current, data)
        await self._append_to_existing(
            principal,
            teams,
            team_id,
            "team",
            lambda row: [
                TeamUpdated(
                    org_id=principal.org_id,
                    aggregate_id=team_id,
                    name=merged["name"],
                    max_requests=merged["max_requests"],
                    max_cost_usd=merged["max_cost_usd"],
                )
            ],
        )
        return await self.get_team(principal, team_id)

    async def delete_team(self, principal: Principal, team_id: str) -> None:
        """Delete a team."""
        await self._append_to_existing(
            principal,
            teams,
            team_id,
            "team",
            lambda row: [TeamDeleted(org_id=principal.org_id, aggregate_id=team_id)],
        )

    # -- API keys -----------------------------------------------------------------------

    async def create_api_key(
        self, principal: Principal, data: dto.ApiKeyCreate
    ) -> dto.CreatedApiKey:
        """A key acting for the caller; shown once, stored only as its SHA-256 hash."""
        await self._require_routers(principal.org_id, data.router_ids)
        generated = generate_key("hs_")
        key_id = new_id("key")
        async with self.database.transaction() as session:
            user = await self.repo.user(session, principal.org_id, principal.user_id)
            if user is None:
                raise NotFoundError("user not found")
            await self.store.append(
                stream_id("api_key", key_id),
                0,
                [
                    ApiKeyCreated(
                        org_id=principal.org_id,
                        aggregate_id=key_id,
                        name=data.name,
                        prefix=generated.prefix,
                        key_hash=generated.hash,
                        user_id=user.id,
                        role=user.role,
                        team_id=user.team_id,
                        router_ids=tuple(data.router_ids),
                        expires_at=data.expires_at,
                    )
                ],
                session=session,
            )
            view = await self.repo.api_key(session, principal.org_id, key_id)
        assert view is not None
        return dto.CreatedApiKey(key=generated.key, api_key=view)

    async def list_api_keys(
        self, principal: Principal, page: PageParams, router_id: str | None = None
    ) -> tuple[list[dto.ApiKeyView], int]:
        """The organisation's API keys (prefixes only)."""
        async with self.database.sessions() as session:
            return await self.repo.api_keys_of(session, principal.org_id, page, router_id)

    async def get_api_key(self, principal: Principal, key_id: str) -> dto.ApiKeyView:
        """One API key."""
        async with self.database.sessions() as session:
            view = await self.repo.api_key(session, principal.org_id, key_id)
        if view is None:
            raise NotFoundError("api key not found")
        return view

    async def revoke_api_key(self, principal: Principal, key_id: str) -> None:
        """Revoke a key; the gateway stops accepting it within a second."""
        await self._revoke(principal, key_id, api_keys, "api_key", ApiKeyRevoked)

    # -- virtual keys -------------------------------------------------------------------

    async def create_virtual_key(
        self, principal: Principal, data: dto.VirtualKeyCreate
    ) -> dto.CreatedVirtualKey:
        """A virtual key with budgets and limits; shown once."""
        await self._require_routers(principal.org_id, data.router_ids)
        generated = generate_key("hsv_")
        key_id = new_id("vk")
        async with self.database.transaction() as session:
            if data.team_id is not None:
                await self._require_team(session, principal.org_id, data.team_id)
            await self.store.append(
                stream_id("virtual_key", key_id),
                0,
                [
                    VirtualKeyCreated(
                        org_id=principal.org_id,
                        aggregate_id=key_id,
                        name=data.name,
                        prefix=generated.prefix,
                        key_hash=generated.hash,
                        team_id=data.team_id,
                        max_requests=data.max_requests,
                        max_cost_usd=data.max_cost_usd,
                        reset_period=data.reset_period,
                        rate_limit_rps=data.rate_limit_rps,
                        router_ids=tuple(data.router_ids),
                        expires_at=data.expires_at,
                    )
                ],
                session=session,
            )
            view = await self.repo.virtual_key(session, principal.org_id, key_id)
        assert view is not None
        return dto.CreatedVirtualKey(key=generated.key, virtual_key=view)

    async def list_virtual_keys(
        self, principal: Principal, page: PageParams, team_id: str | None = None
    ) -> tuple[list[dto.VirtualKeyView], int]:
        """The organisation's virtual keys."""
        async with self.database.sessions() as session:
            return await self.repo.virtual_keys_of(session, principal.org_id, page, team_id)

    async def get_virtual_key(self, principal: Principal, key_id: str) -> dto.VirtualKeyView:
        """One virtual key."""
        async with self.database.sessions() as session:
            view = await self.repo.virtual_key(session, principal.org_id, key_id)
        if view is None:
            raise NotFoundError("virtual key not found")
        return view

    async def update_virtual_key(
        self, principal: Principal, key_id: str, data: dto.VirtualKeyUpdate
    ) -> dto.VirtualKeyView:
        """Change a virtual key's limits, team, routers or expiry."""
        if data.router_ids is not msgspec.UNSET:
            await self._require_routers(principal.org_id, data.router_ids)
        async with self.database.transaction() as session:
            current = await self.repo.virtual_key(session, principal.org_id, key_id)
            state = await self.repo.key_state(session, virtual_keys, principal.org_id, key_id)
            if current is None or state is None:
                raise NotFoundError("virtual key not found")
            if state[2]:
                raise ConflictError("virtual key is revoked")
            merged = _merge(msgspec.structs.asdict(current), data)
            if merged["team_id"] is not None:
                await self._require_team(session, principal.org_id, merged["team_id"])
            await self.store.append(
                stream_id("virtual_key", key_id),
                state[0].version,
                [
                    VirtualKeyUpdated(
                        org_id=principal.org_id,
                        aggregate_id=key_id,
                        name=merged["name"],
                        team_id=merged["team_id"],
                        max_requests=merged["max_requests"],
                        max_cost_usd=merged["max_cost_usd"],
                        reset_period=merged["reset_period"],
                        rate_limit_rps=merged["rate_limit_rps"],
                        router_ids=tuple(merged["router_ids"]),
                        expires_at=merged["expires_at"],
                    )
                ],
                session=session,
            )
        return await self.get_virtual_key(principal, key_id)

    async def revoke_virtual_key(self, principal: Principal, key_id: str) -> None:
        """Revoke a virtual key."""
        await self._revoke(principal, key_id, virtual_keys, "virtual_key", VirtualKeyRevoked)

    async def _revoke(
        self,
        principal: Principal,
        key_id: str,
        table: Table,
        kind: str,
        revoked: type[ApiKeyRevoked] | type[VirtualKeyRevoked],
    ) -> None:
        name = kind.replace("_", " ")
        async with self.database.transaction() as session:
            state = await self.repo.key_state(session, table, principal.org_id, key_id)
            if state is None:
                raise NotFoundError(f"{name} not found")
            row, key_hash, already_revoked = state
            if already_revoked:
                raise ConflictError(f"{name} already revoked")
            event = revoked(org_id=principal.org_id, aggregate_id=key_id, key_hash=key_hash)
            await self.store.append(stream_id(kind, key_id), row.version, [event], session=session)

    async def record_key_usage(self, last_used: dict[str, datetime]) -> None:
        """Store a batch of last-used times reported by the gateway."""
        async with self.database.transaction() as session:
            await self.repo.record_key_usage(session, last_used)

    # -- router team access -------------------------------------------------------------

    async def _require_router(self, org_id: str, router_id: str) -> None:
        """Another organisation's router is a 404, exactly as one that never existed."""
        if self.routers is not None and not await self.routers.owned(org_id, router_id):
            raise NotFoundError("router not found")

    async def _require_routers(self, org_id: str, router_ids: Sequence[str]) -> None:
        """A key may be scoped to the organisation's own routers only (400 naming them)."""
        if self.routers is None or not router_ids:
            return
        wanted = list(dict.fromkeys(router_ids))
        routers = self.routers
        owned = await asyncio.gather(*(routers.owned(org_id, r) for r in wanted))
        unknown = [router_id for router_id, ok in zip(wanted, owned, strict=True) if not ok]
        if unknown:
            raise InvalidInputError(
                "unknown router",
                {"routerIds": [f"no such router in this organization: {r}" for r in unknown]},
            )

    def _access_stream(self, org_id: str, router_id: str) -> str:
        return stream_id("router_access", f"{org_id}:{router_id}")

    async def list_router_access(
        self, principal: Principal, router_id: str
    ) -> list[dto.RouterAccessView]:
        """The teams a router is restricted to (none: open to the whole organisation)."""
        await self._require_router(principal.org_id, router_id)
        async with self.database.sessions() as session:
            return await self.repo.router_access(session, principal.org_id, router_id)

    async def grant_router_access(
        self, principal: Principal, router_id: str, data: dto.RouterAccessGrant
    ) -> list[dto.RouterAccessView]:
        """Restrict a router to a team (adding to the teams already granted)."""
        await self._require_router(principal.org_id, router_id)
        await self._change_router_access(principal, router_id, data.team_id, grant=True)
        return await self.list_router_access(principal, router_id)

    async def revoke_router_access(
        self, principal: Principal, router_id: str, team_id: str
    ) -> None:
        """Remove a team's grant on a router."""
        await self._change_router_access(principal, router_id, team_id, grant=False)

    async def _change_router_access(
        self, principal: Principal, router_id: str, team_id: str, *, grant: bool
    ) -> None:
        stream = self._access_stream(principal.org_id, router_id)
        async with self.database.transaction() as session:
            await self.store.lock_appends(session)
            granted = {
                a.team_id
                for a in await self.repo.router_access(session, principal.org_id, router_id)
            }
            if grant:
                await self._require_team(session, principal.org_id, team_id)
                if team_id in granted:
                    raise ConflictError("team already has access to this router")
                event: Event = RouterTeamAccessGranted(
                    org_id=principal.org_id, aggregate_id=router_id, team_id=team_id
                )
            else:
                if team_id not in granted:
                    raise NotFoundError("no such grant")
                event = RouterTeamAccessRevoked(
                    org_id=principal.org_id, aggregate_id=router_id, team_id=team_id
                )
            version = await self.store.stream_version(stream, session=session)
            await self.store.append(stream, version, [event], session=session)

    # -- shared -------------------------------------------------------------------------

    async def _append_to_existing(
        self, principal: Principal, table: Any, row_id: str, kind: str, build: Any
    ) -> None:
        """Append `build(row)`'s events to an existing aggregate of the caller's org (else 404)."""
        async with self.database.transaction() as session:
            row = await self.repo.versioned(session, table, principal.org_id, row_id)
            if row is None:
                raise NotFoundError(f"{kind.replace('_', ' ')} not found")
            events: Sequence[Event] = build(row)
            await self.store.append(stream_id(kind, row_id), row.version, events, session=session)
