"""Commands (request bodies) and views (responses) of the router admin use cases, camelCase
on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from hyperstrate_contracts.router import FeatureType, InterceptorType, Strategy

# PostgreSQL refuses NUL in text: reject it here, as a 400 naming the field.
_NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=_NO_NUL)]
Description = Annotated[str, msgspec.Meta(max_length=2000, pattern=_NO_NUL)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=_NO_NUL)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
Weight = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Percentage = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
Priority = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
Order = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
#: A feature's or interceptor's config as sent; the domain parses it into its typed form.
ConfigBody = Annotated[dict[str, Any], msgspec.Meta(max_length=100)]


class Camel(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Base of request bodies: camelCase, unknown fields rejected (typos are named)."""


class View(msgspec.Struct, rename="camel"):
    """Base of responses."""


# -- routers ----------------------------------------------------------------------------


class RouterCreate(Camel):
    name: Name
    description: Description = ""
    strategy: Strategy = "round_robin"
    enabled: bool = True


class RouterUpdate(Camel):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    strategy: Strategy | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class RouterView(View):
    id: str
    org_id: str
    name: str
    description: str
    strategy: Strategy
    enabled: bool
    created_at: datetime
    updated_at: datetime


# -- targets ----------------------------------------------------------------------------


class TargetCreate(Camel):
    registration_id: Id
    weight: Weight = 1
    percentage: Percentage = 0.0
    priority: Priority = 0
    enabled: bool = True


class TargetUpdate(Camel):
    registration_id: Id | msgspec.UnsetType = msgspec.UNSET
    weight: Weight | msgspec.UnsetType = msgspec.UNSET
    percentage: Percentage | msgspec.UnsetType = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class TargetView(View):
    id: str
    router_id: str
    registration_id: str
    weight: int
    percentage: float
    priority: int
    enabled: bool
    created_at: datetime
    updated_at: datetime


# -- features ---------------------------------------------------------------------------


class FeatureCreate(Camel):
    """A feature of a type the router does not have yet."""

    type: FeatureType
    config: ConfigBody = {}
    enabled: bool = True


class FeatureSet(Camel):
    """The whole feature of the type named in the path (created or replaced)."""

    config: ConfigBody = {}
    enabled: bool = True


class FeatureView(View):
    id: str
    router_id: str
    type: FeatureType
    config: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


# -- interceptors -----------------------------------------------------------------------


class InterceptorCreate(Camel):
    type: InterceptorType
    config: ConfigBody = {}
    enabled: bool = True
    order: Order = 0


class InterceptorUpdate(Camel):
    """`config`, when given, replaces the whole config; the type never changes."""

    config: ConfigBody | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    order: Order | msgspec.UnsetType = msgspec.UNSET


class InterceptorView(View):
    id: str
    router_id: str
    type: InterceptorType
    config: dict[str, Any]
    enabled: bool
    order: int
    created_at: datetime
    updated_at: datetime


# -- configuration ----------------------------------------------------------------------


class ConfigurationSet(Camel):
    """The router's whole configuration (a field left out takes its default)."""

    webhook_url: Url | None = None
    prompt_id: Id | None = None
    store_payloads: bool = False


class ConfigurationView(View):
    router_id: str
    webhook_url: str | None
    prompt_id: str | None
    store_payloads: bool
    updated_at: datetime | None


class RouterDetail(RouterView):
    """A router with everything it owns."""

    targets: list[TargetView]
    features: list[FeatureView]
    interceptors: list[InterceptorView]
    configuration: ConfigurationView
