"""Commands (request bodies) and views (responses) of the auth use cases, camelCase on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Email = Annotated[
    str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$")
]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=1024)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
RouterIds = Annotated[list[Id], msgspec.Meta(max_length=1000)]
Role = Literal["admin", "member"]
ResetPeriod = Literal["daily", "weekly", "monthly"]


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Base of request bodies: camelCase, unknown fields rejected (typos are named)."""


class View(msgspec.Struct, rename="camel"):
    """Base of responses."""


# -- sessions ---------------------------------------------------------------------------


class SetupStatus(View):
    setup_required: bool


class SetupInput(Camel):
    organization_name: Name
    email: Email
    password: Password
    name: Name = "Admin"


class LoginInput(Camel):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    # E-mails are unique per organisation: this picks one when the password opens several.
    organization_id: Id | None = None


class RefreshInput(Camel):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class UserView(View):
    id: str
    org_id: str
    email: str
    name: str
    role: Role
    team_id: str | None
    created_at: datetime
    updated_at: datetime
    disabled: bool = False  # a disabled user cannot sign in, and their sessions end


class Session(View):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    user: UserView


class ProfileUpdate(Camel):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    password: Password | msgspec.UnsetType = msgspec.UNSET


# -- organisations, users, teams ----------------------------------------------------------


class OrganizationView(View):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


class OrganizationCreate(Camel):
    """A new organisation with its first admin."""

    name: Name
    admin_email: Email
    admin_password: Password
    admin_name: Name = "Admin"


class OrganizationUpdate(Camel):
    name: Name


class UserCreate(Camel):
    email: Email
    password: Password
    name: Name
    role: Role = "member"
    team_id: Id | None = None


class UserUpdate(Camel):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    team_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    password: Password | msgspec.UnsetType = msgspec.UNSET
    disabled: bool | msgspec.UnsetType = msgspec.UNSET


class TeamView(View):
    id: str
    org_id: str
    name: str
    max_requests: int | None
    max_cost_usd: float | None
    created_at: datetime
    updated_at: datetime
    # What the team's caps count (null when observability cannot be asked right now).
    used_requests: int | None = None
    used_cost_usd: float | None = None


class TeamCreate(Camel):
    name: Name
    max_requests: NonNegativeInt | None = None
    max_cost_usd: NonNegativeFloat | None = None


class TeamUpdate(Camel):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    max_requests: NonNegativeInt | msgspec.UnsetType | None = msgspec.UNSET
    max_cost_usd: NonNegativeFloat | msgspec.UnsetType | None = msgspec.UNSET


# -- keys ---------------------------------------------------------------------------------


class ApiKeyView(View):
    id: str
    org_id: str
    user_id: str
    name: str
    prefix: str
    router_ids: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreate(Camel):
    name: Name
    router_ids: RouterIds = msgspec.field(default_factory=list)
    expires_at: datetime | None = None


class CreatedApiKey(View):
    """The only response that ever shows the key."""

    key: str
    api_key: ApiKeyView


class VirtualKeyView(View):
    id: str
    org_id: str
    name: str
    prefix: str
    team_id: str | None
    max_requests: int | None
    max_cost_usd: float | None
    reset_period: ResetPeriod | None
    rate_limit_rps: float | None
    router_ids: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime


class VirtualKeyCreate(Camel):
    name: Name
    team_id: Id | None = None
    max_requests: NonNegativeInt | None = None
    max_cost_usd: NonNegativeFloat | None = None
    reset_period: ResetPeriod | None = None
    rate_limit_rps: PositiveFloat | None = None
    router_ids: RouterIds = msgspec.field(default_factory=list)
    expires_at: datetime | None = None


class VirtualKeyUpdate(Camel):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    team_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    max_requests: NonNegativeInt | msgspec.UnsetType | None = msgspec.UNSET
    max_cost_usd: NonNegativeFloat | msgspec.UnsetType | None = msgspec.UNSET
    reset_period: ResetPeriod | msgspec.UnsetType | None = msgspec.UNSET
    rate_limit_rps: PositiveFloat | msgspec.UnsetType | None = msgspec.UNSET
    router_ids: RouterIds | msgspec.UnsetType = msgspec.UNSET
    expires_at: datetime | msgspec.UnsetType | None = msgspec.UNSET


class CreatedVirtualKey(View):
    key: str
    virtual_key: VirtualKeyView


class RouterAccessGrant(Camel):
    team_id: Id


class RouterAccessView(View):
    router_id: str
    team_id: str
    created_at: datetime
