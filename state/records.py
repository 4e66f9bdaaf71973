"""Plain immutable records the store hands out; the engine and CLI never see database rows.

Keeping them free of SQLAlchemy lets a fake store in tests build them, and keeps the serialized
form (state/document.py) separate from the tables (state/models.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from collections.abc import Mapping

from ecpctl.kernel import ResourceState

TENANT_STATUSES = ("pending", "applying", "running", "failed", "destroying")


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class TenantRecord:
    """One row of the product's tenants registry, so `ecpctl` can list tenants and their status.

    `created_at` and `updated_at` are set by the store; values given by the caller are ignored on
    `upsert_tenant` (and kept on `push`, which restores a document as it was).
    """

    tenant_id: str
    name: str
    preset: str
    is_demo: bool = False
    status: str = "pending"
    service_requirements: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)
    sla_target: Mapping[str, Any] = field(default_factory=dict)
    cpu_limit: str = ""
    memory_limit: str = ""
    gpu_limit: int = 0
    gpu_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    storage_limit: str | None = None   # also a column of the product's table; last so it is optional

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id, "name": self.name, "preset": self.preset,
            "is_demo": bool(self.is_demo), "status": self.status,
            "service_requirements": dict(self.service_requirements),
            "resources": dict(self.resources), "sla_target": dict(self.sla_target),
            "cpu_limit": self.cpu_limit, "memory_limit": self.memory_limit,
            "gpu_limit": int(self.gpu_limit), "gpu_type": self.gpu_type,
            "storage_limit": self.storage_limit,
            "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TenantRecord:
        return cls(
            tenant_id=d["tenant_id"], name=d.get("name") or "", preset=d["preset"],
            is_demo=bool(d.get("is_demo", False)), status=d.get("status") or "pending",
            service_requirements=d.get("service_requirements") or {},
            resources=d.get("resources") or {}, sla_target=d.get("sla_target") or {},
            cpu_limit=d.get("cpu_limit") or "", memory_limit=d.get("memory_limit") or "",
            gpu_limit=int(d.get("gpu_limit") or 0), gpu_type=d.get("gpu_type"),
            storage_limit=d.get("storage_limit"),
            created_at=_parse_iso(d.get("created_at")), updated_at=_parse_iso(d.get("updated_at")),
        )


@dataclass(frozen=True)
class StateSnapshot:
    """The state of one workspace at one serial, read in one transaction: all of it, or the
    resources of some tenants only (`covers`; the registry is always whole).

    A workspace never written has lineage "" and serial 0. A saved plan records both, so applying
    it after anyone else wrote the workspace is refused.
    """

    lineage: str
    serial: int
    resources: Mapping[str, ResourceState] = field(default_factory=_empty)   # address ->
    tenants: Mapping[str, TenantRecord] = field(default_factory=_empty)      # tenant_id ->
    covers: frozenset[str] | None = None        # the tenants whose resources were read; None: all


@dataclass(frozen=True)
class LockInfo:
    """Who holds a workspace's lock, since when and for what: enough to find and ask them."""

    id: str
    workspace: str
    holder: str          # user@host
    host: str
    pid: int
    operation: str
    created_at: datetime


@dataclass(frozen=True)
class VersionInfo:
    """One entry of a workspace's history; `version` is the serial it was written at."""

    version: int
    lineage: str
    created_at: datetime
    operation: str
    resources: int


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat() if ts is not None else None


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
