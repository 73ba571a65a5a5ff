"""Operator commands without the HTTP API (`python -m hyperstrate_auth.cli --help`).

    create-org   an organisation, its admin and an API key (password generated if not given)
    create-key   another API key for an existing user

Only the operator creates organisations: the admin API refuses tenant admins (403), and the
first-run setup makes the first one.

They write events to the auth database; the service's relay publishes them when it runs.
Each event records the actor `operator` with the id `cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence

from hyperstrate_auth.application import dto
from hyperstrate_auth.application.service import AuthService
from hyperstrate_auth.domain.model import normalise_email
from hyperstrate_auth.infrastructure.passwords import Argon2PasswordHasher
from hyperstrate_auth.infrastructure.projections import AuthProjection
from hyperstrate_auth.infrastructure.repository import AuthRepository
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_contracts.auth import auth_registry
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import acting_as
from hyperstrate_kit.database import KIT_MIGRATIONS, Database, MigrationSet
from hyperstrate_kit.errors import AppError
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.sessions import Principal
from hyperstrate_kit.settings import SettingsError, load_settings

MIGRATIONS = [KIT_MIGRATIONS, MigrationSet("hyperstrate_auth.migrations", "auth_alembic_version")]
#: Who the audit log names for what these commands do.
CLI_ACTOR = Actor(kind="operator", id="cli")


async def _service(settings: AuthSettings) -> AuthService:
    database = await Database.open(settings.database_url, settings.database, migrations=MIGRATIONS)
    store = EventStore(database, auth_registry(), [AuthProjection()])
    return AuthService(
        database,
        store,
        AuthRepository(),
        Argon2PasswordHasher(),
        jwt_secret=settings.effective_jwt_secret,
        admin_email=settings.admin_email,
    )


async def operator_create_organization(
    settings: AuthSettings, name: str, admin_email: str, admin_password: str, key_name: str
) -> tuple[dto.OrganizationView, dto.CreatedApiKey]:
    """An organisation, its admin and an API key of the admin, as the operator."""
    service = await _service(settings)
    try:
        with acting_as(CLI_ACTOR):
            org = await service.create_organization(
                dto.OrganizationCreate(
                    name=name, admin_email=admin_email, admin_password=admin_password
                )
            )
            created = await _create_key(service, admin_email, key_name, org.id)
    finally:
        await service.database.close()
    return org, created


async def create_org(settings: AuthSettings, args: argparse.Namespace) -> None:
    """Create an organisation, its admin and an API key; print them."""
    password = args.admin_password or secrets.token_urlsafe(12)
    org, created = await operator_create_organization(
        settings, args.name, args.admin_email, password, args.key_name
    )
    print(f"organization: {org.id} ({org.name})")
    print(f"admin:        {normalise_email(args.admin_email)}")
    if not args.admin_password:
        print(f"password:     {password}")
    print(f"api key:      {created.key}   (shown once)")


async def create_key(settings: AuthSettings, args: argparse.Namespace) -> None:
    """Create an API key for an existing user; print it."""
    service = await _service(settings)
    try:
        created = await _create_key(service, args.email, args.key_name, args.organization)
    finally:
        await service.database.close()
    print(f"api key: {created.key}   (shown once)")


async def _create_key(
    service: AuthService, email: str, name: str, org_id: str | None = None
) -> dto.CreatedApiKey:
    async with service.database.sessions() as session:
        found = await service.repo.users_by_email(session, normalise_email(email), org_id)
    if not found:
        raise SystemExit(f"no user with email {email}")
    if len(found) > 1:  # e-mails are unique per organisation only
        orgs = ", ".join(user.org_id for user, _ in found)
        raise SystemExit(f"users with email {email} in several organizations ({orgs}): --org")
    user = found[0][0]
    principal = Principal(org_id=user.org_id, user_id=user.id, role=user.role, email=user.email)
    return await service.create_api_key(principal, dto.ApiKeyCreate(name=name))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m hyperstrate_auth.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    org = commands.add_parser("create-org", help="an organisation, its admin and an API key")
    org.add_argument("--name", required=True)
    org.add_argument("--admin-email", required=True)
    org.add_argument("--admin-password", default="")
    org.add_argument("--key-name", default="default")
    key = commands.add_parser("create-key", help="an API key for an existing user")
    key.add_argument("--email", required=True)
    key.add_argument("--key-name", default="cli")
    key.add_argument("--org", dest="organization", default=None, help="the user's organization")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(AuthSettings)
    except SettingsError as exc:
        print(f"hyperstrate-auth: {exc}", file=sys.stderr)
        return 2
    command = create_org if args.command == "create-org" else create_key
    try:
        with acting_as(CLI_ACTOR):  # asyncio.run's task starts in a copy of this context
            asyncio.run(command(settings, args))
    except AppError as exc:
        print(f"hyperstrate-auth: {exc.message} {exc.fields or ''}".rstrip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
