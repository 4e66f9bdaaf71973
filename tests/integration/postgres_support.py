"""Helpers for the postgres provider's tests against the real server (tests/testenv): spec files,
expansion of a tenant's Postgres resources, and the real planner and applier over an in-memory
state store, so that "No changes" means exactly what `ecpctl plan` would say."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ecpctl.applier import ApplyOutcome, apply_plan
from ecpctl.config import load_config
from ecpctl.expand.context import Builder, ExpandContext, SecretSource
from ecpctl.expand.postgres import expand_postgres
from ecpctl.kernel import Resource, ResourceState
from ecpctl.plan import Plan
from ecpctl.planner import PlanOptions, PriorState, make_plan
from providers.registry import ProviderSet

DSN_ENV = "ECPCTL_POSTGRES_DSN"

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: pg-tests
spec:
  providers:
    postgres:
      dsnEnv: ECPCTL_POSTGRES_DSN
"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {tid}
spec:
  preset: small
  services:
    chatbot: 10
  sla:
    availability: "99%"
  database:
    enabled: true
    extensions: [{extensions}]
    schemas: [{schemas}]
    connectionLimit: {limit}
"""


def new_tenant_id(prefix: str = "pg") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def write_specs(spec_dir: Path, tenants: Iterable[str], *, extensions: Iterable[str] = ("pgcrypto",),
                schemas: Iterable[str] = (), limit: int = 20) -> Path:
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "project.yaml").write_text(PROJECT)
    for tid in tenants:
        (spec_dir / f"{tid}.yaml").write_text(TENANT.format(
            tid=tid, extensions=", ".join(extensions), schemas=", ".join(schemas), limit=limit))
    return spec_dir


def expand(spec_dir: Path, prior: Mapping[str, ResourceState] | None = None,
           replace: Iterable[str] = ()) -> list[Resource]:
    """Every tenant's Postgres resources, with passwords kept from `prior` as the engine does."""
    config = load_config(spec_dir)
    secrets = SecretSource(prior={a: s.attributes for a, s in (prior or {}).items()},
                           regenerate=frozenset(replace))
    ctx = ExpandContext(config.project, secrets)
    out: list[Resource] = []
    for lt in config.tenants:
        b = Builder(lt.tenant.metadata.name)
        expand_postgres(b, ctx, lt)
        out.extend(b.resources)
    return out


class MemoryStore:
    """The two state-store methods the applier needs, in memory."""

    def __init__(self) -> None:
        self.resources: dict[str, ResourceState] = {}

    def put_resource(self, workspace: str, rs: ResourceState, *, lock: Any = None) -> None:
        self.resources[rs.address] = rs

    def remove_resource(self, workspace: str, address: str, *, lock: Any = None) -> None:
        self.resources.pop(address, None)


def providers() -> ProviderSet:
    return ProviderSet({"postgres": {"dsnEnv": DSN_ENV}})


def plan(ps: ProviderSet, desired: Iterable[Resource], store: MemoryStore, **opts: Any) -> Plan:
    return make_plan(list(desired), PriorState(None, 0, dict(store.resources)), workspace="test",
                     config_digest="test", providers=ps, opts=PlanOptions(**opts))


def apply(ps: ProviderSet, p: Plan, store: MemoryStore, **kw: Any) -> ApplyOutcome:
    kw.setdefault("retry_sleep", lambda s: None)
    outcome = apply_plan(p, ps, store, **kw)
    assert outcome.ok, (outcome.failed, outcome.skipped)
    return outcome


def changes(p: Plan) -> dict[str, Any]:
    return {c.address: c for c in p.pending()}


class World:
    """One test's tenants: spec files, state, providers; `destroy()` leaves the server clean."""

    def __init__(self, spec_dir: Path, tenants: Iterable[str], **spec: Any):
        self.spec_dir = write_specs(spec_dir, tenants, **spec)
        self.store = MemoryStore()
        self.ps = providers()

    @property
    def provider(self):
        return self.ps.get("postgres")

    def desired(self, replace: Iterable[str] = ()) -> list[Resource]:
        return expand(self.spec_dir, self.store.resources, replace)

    def plan(self, **opts: Any) -> Plan:
        return plan(self.ps, self.desired(opts.get("replace", ())), self.store, **opts)

    def apply(self, **opts: Any) -> Plan:
        apply_kw = {k: opts.pop(k) for k in ("events", "retry_sleep") if k in opts}
        p = self.plan(**opts)
        apply(self.ps, p, self.store, **apply_kw)
        return p

    def destroy(self) -> None:
        p = plan(self.ps, [], self.store, destroy=True)
        apply(self.ps, p, self.store)
        self.ps.close()

    def state(self, address: str) -> ResourceState:
        return self.store.resources[address]
