"""The state tables (SQLAlchemy 2 Core), shared by the SQLite and Postgres backends.

JSON lives in text columns holding canonical JSON, so a row's checksum is the sha256 of its text
and a document can be spliced from rows without re-encoding them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, String, Table, Text,
                        TypeDecorator)

SCHEMA_VERSION = 1


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both backends (SQLite keeps no zone; it gets UTC back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

meta = Table(
    "ecpctl_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

workspaces = Table(
    "workspaces", metadata,
    Column("name", String(64), primary_key=True),
    Column("lineage", String(36), nullable=False),
    Column("serial", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

resources = Table(
    "resources", metadata,
    Column("workspace", String(64), primary_key=True),
    Column("address", String(512), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("type", String(256), nullable=False),
    Column("tenant", String(128), nullable=False, index=True),
    Column("data", Text, nullable=False),          # canonical JSON of ResourceState.to_dict()
    Column("checksum", String(64), nullable=False),  # sha256 of `data`
)

versions = Table(
    "versions", metadata,
    Column("workspace", String(64), primary_key=True),
    Column("serial", Integer, primary_key=True),
    Column("lineage", String(36), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("operation", String(64), nullable=False),
    Column("resource_count", Integer, nullable=False),
    Column("document", Text, nullable=False),      # canonical document body, without "checksum"
    Column("checksum", String(64), nullable=False),  # sha256 of `document`
)

locks = Table(
    "locks", metadata,
    Column("workspace", String(64), primary_key=True),   # one lock per workspace: INSERT decides
    Column("id", String(36), nullable=False),
    Column("holder", String(256), nullable=False),
    Column("host", String(256), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("operation", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

tenants = Table(
    "tenants", metadata,
    Column("workspace", String(64), primary_key=True),
    Column("tenant_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("preset", String(20), nullable=False),
    Column("is_demo", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("service_requirements", Text, nullable=False),
    Column("resources", Text, nullable=False),
    Column("sla_target", Text, nullable=False),
    Column("cpu_limit", String(50), nullable=False),
    Column("memory_limit", String(50), nullable=False),
    Column("gpu_limit", Integer, nullable=False),
    Column("gpu_type", String(50)),
    Column("storage_limit", String(50)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The keys of saved plans made without a state key (state/plan_keys.py): such a plan's secrets are
# sealed with a random key of its own, kept here and never in the plan file, so that without a
# state key the state database stays the only place that can give a secret back.
plan_keys = Table(
    "plan_keys", metadata,
    Column("id", String(36), primary_key=True),        # the plan's id, recorded in its file
    Column("workspace", String(64), nullable=False, index=True),
    Column("lineage", String(36)),                     # the state the plan was made from
    Column("serial", Integer, nullable=False),
    Column("secret", Text, nullable=False),            # base64 of the plan's 32-byte AES key
    Column("created_at", UTCDateTime, nullable=False),
)
