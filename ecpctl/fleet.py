"""The fleet view of `ecpctl tenants --summary`: the tenants registry counted by status and preset,
the sum of their quotas against what the cluster's nodes can allocate, and each tenant's current
utilisation from Prometheus (ecpctl's cpu_usage / memory_usage / gpu_usage recording rules).

The cluster and Prometheus are optional: when one is not configured or cannot be reached, the
summary says so (`reason`) and the rest is still reported. Nothing here writes anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecpctl.kernel import EcpctlError
from ecpctl.kernel.quantity import parse_cpu, parse_memory_bytes

STATUSES = ("running", "pending", "applying", "failed", "destroying")
RESOURCES = ("cpu", "memory", "gpu")
# avg over the tenant's services of each recording rule: % of the services' limits in use
USAGE_QUERIES = {r: f"avg by (tenant_id) ({r}_usage)" for r in RESOURCES}


@dataclass(frozen=True)
class Capacity:
    """What the schedulable nodes can allocate (cpu in millicores, memory in bytes, GPUs)."""

    reachable: bool
    reason: str | None = None
    nodes: int = 0
    allocatable: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Utilisation:
    source: str | None                  # the Prometheus URL asked, None when none is configured
    reason: str | None = None           # why there are no figures
    tenants: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class FleetSummary:
    workspace: str
    totals: Mapping[str, int]
    by_preset: Mapping[str, int]
    quota: Mapping[str, int]            # summed limits of every tenant, units as in Capacity
    capacity: Capacity
    utilisation: Utilisation

    def share(self, resource: str) -> float | None:
        """The quotas' sum as a % of the cluster's allocatable, when both are known."""
        total = self.capacity.allocatable.get(resource) if self.capacity.reachable else None
        if not total:
            return None
        return 100.0 * self.quota.get(resource, 0) / total


def counts(records: Sequence[Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(totals: all, each status, demo; presets -> count) of the registry's rows."""
    by_status = Counter(r.status for r in records)
    totals = {"all": len(records), **{s: by_status.get(s, 0) for s in STATUSES},
              "demo": sum(1 for r in records if r.is_demo)}
    return totals, dict(sorted(Counter(r.preset for r in records).items()))


def quota(records: Iterable[Any]) -> dict[str, int]:
    out = dict.fromkeys(RESOURCES, 0)
    for r in records:
        out["cpu"] += parse_cpu(r.cpu_limit) if r.cpu_limit else 0
        out["memory"] += parse_memory_bytes(r.memory_limit) if r.memory_limit else 0
        out["gpu"] += int(r.gpu_limit or 0)
    return out


def capacity(list_nodes: Callable[[], list[Mapping[str, Any]]] | None,
             not_configured: str = "no cluster configured") -> Capacity:
    """Allocatable of the schedulable nodes; an unreachable cluster is a reason, not an error."""
    if list_nodes is None:
        return Capacity(False, not_configured)
    from providers.kubernetes.capacity import allocatable
    try:
        nodes = list_nodes()
    except EcpctlError as exc:
        return Capacity(False, f"cluster not reachable: {exc}")
    a = allocatable(nodes)
    return Capacity(True, None, a.nodes, {"cpu": a.total["cpu"], "memory": a.total["memory"],
                                          "gpu": a.total["nvidia.com/gpu"]})


def utilisation(query: Callable[[str], list[dict[str, Any]]] | None, source: str | None,
                tenants: Iterable[str]) -> Utilisation:
    """Each tenant's current cpu/memory/gpu usage (% of its services' limits, averaged over the
    services); None where Prometheus has no series (no pods running, or no GPU service)."""
    wanted = sorted(set(tenants))
    if query is None:
        return Utilisation(None, "no Prometheus configured (providers.prometheus.url)")
    rows: dict[str, dict[str, float | None]] = {t: dict.fromkeys(RESOURCES) for t in wanted}
    try:
        for res, expr in USAGE_QUERIES.items():
            for sample in query(expr):
                tid = (sample.get("metric") or {}).get("tenant_id")
                if tid in rows:
                    try:
                        rows[tid][res] = round(float(sample["value"][1]), 1)
                    except (KeyError, IndexError, TypeError, ValueError):
                        continue
    except EcpctlError as exc:
        return Utilisation(source, f"Prometheus not reachable: {exc}")
    return Utilisation(source, None, rows)


def summarize(workspace: str, records: Sequence[Any], cap: Capacity,
              use: Utilisation) -> FleetSummary:
    totals, presets = counts(records)
    return FleetSummary(workspace, totals, presets, quota(records), cap, use)
