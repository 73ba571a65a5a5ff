"""Read-model tables of the prompts service (the event store is the kit's)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["PROJECTION_TABLES", "metadata", "prompt_versions", "prompts"]

metadata = MetaData()

prompts = Table(
    "prompts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("variables", JSONB, nullable=False),
    Column("version", Integer, nullable=False),  # the current version number
    Column("stream_version", Integer, nullable=False),  # for the next append
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("prompts_org_name", "org_id", "name", unique=True),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("prompt_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("variables", JSONB, nullable=False),
    Column("restored_from", Integer),
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

PROJECTION_TABLES = (prompts, prompt_versions)
