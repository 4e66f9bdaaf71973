"""The views of `status`: each tenant's services as the cluster runs them.

Both views carry the verdict the exit code gives (3 when a service is not ready): the human one
as its last line, the JSON one as `all_ready` (each service's `problems` say why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from ecpctl.views.report import plural

READY = "ready"


@dataclass(frozen=True)
class TenantStatus:
    tenant: str
    namespace: str | None
    services: tuple[Any, ...]     # providers.kubernetes.status.ServiceStatus, sorted by name


@dataclass(frozen=True)
class Status:
    tenants: tuple[TenantStatus, ...]

    @property
    def services(self) -> list[Any]:
        return [s for t in self.tenants for s in t.services]

    @property
    def not_ready(self) -> list[Any]:
        return [s for s in self.services if s.status != READY]

    @property
    def all_ready(self) -> bool:
        return not self.not_ready


def status_json(st: Status) -> dict[str, Any]:
    return {"all_ready": st.all_ready,
            "summary": {"services": len(st.services), "ready": len(st.services) - len(st.not_ready)},
            "tenants": [{"tenant": t.tenant, "namespace": t.namespace,
                         "services": [s.to_dict() for s in t.services]} for t in st.tenants]}


def status_human(con: Console, st: Status) -> None:
    rows = st.services
    if not rows:
        con.print("No services declared.", markup=False)
        return
    head = ("TENANT", "SERVICE", "DESIRED", "READY", "AVAILABLE", "STATUS")
    table: list[Sequence[str]] = [head] + [
        (r.tenant, r.service, "-" if r.desired_replicas is None else str(r.desired_replicas),
         str(r.ready_replicas), str(r.available_replicas), r.status) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        con.print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), markup=False)
    problems = [(r, p) for r in rows for p in r.problems]
    if problems:
        con.print()
        for r, p in problems:
            pending = f" ({plural(r.pending_pods, 'pending pod')})" if r.pending_pods else ""
            con.print(f"{r.tenant}/{r.service}{pending}: {p}", markup=False)
    con.print()
    con.print(f"{len(rows) - len(st.not_ready)}/{plural(len(rows), 'service')} ready.", markup=False)
