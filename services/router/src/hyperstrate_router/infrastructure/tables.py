"""Read-model tables of the router admin side (projections of the ROUTER events)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


routers = Table(
    "routers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    *_timestamps(),
    # The version of the router's event stream, which holds everything the router owns.
    Column("version", Integer, nullable=False),
    UniqueConstraint("org_id", "name", name="routers_org_name"),
)

router_targets = Table(
    "router_targets",
    metadata,
    Column("id", Text, primary_key=True),
    Column("router_id", Text, nullable=False, index=True),
    Column("org_id", Text, nullable=False),
    Column("registration_id", Text, nullable=False),
    Column("weight", Integer, nullable=False),
    Column("percentage", Float, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    *_timestamps(),
)

router_features = Table(
    "router_features",
    metadata,
    Column("id", Text, primary_key=True),
    Column("router_id", Text, nullable=False),
    Column("org_id", Text, nullable=False),
    Column("feature_type", Text, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("enabled", Boolean, nullable=False),
    *_timestamps(),
    UniqueConstraint("router_id", "feature_type", name="router_features_router_type"),
)

router_interceptors = Table(
    "router_interceptors",
    metadata,
    Column("id", Text, primary_key=True),
    Column("router_id", Text, nullable=False, index=True),
    Column("org_id", Text, nullable=False),
    Column("interceptor_type", Text, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("run_order", Integer, nullable=False),
    *_timestamps(),
)

router_configurations = Table(
    "router_configurations",
    metadata,
    Column("router_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("webhook_url", Text),
    Column("prompt_id", Text),
    Column("store_payloads", Boolean, nullable=False),
    *_timestamps(),
)

PROJECTION_TABLES = (
    routers,
    router_targets,
    router_features,
    router_interceptors,
    router_configurations,
)
ROUTER_CHILD_TABLES = (router_targets, router_features, router_interceptors)
