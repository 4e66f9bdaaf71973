"""Capacity check: a tenant's summed pod requests against what the cluster's nodes can allocate.

Like the product's manifest validation, GPUs are checked first (they are the scarce resource); a
pod asking for more of a resource than any single node has can never be scheduled at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Mapping

from ecpctl.kernel import Diagnostic
from ecpctl.kernel.quantity import format_cpu, parse_cpu, parse_memory_bytes
from ecpctl.kernel import Resource
from providers.kubernetes import placement

GPU = "nvidia.com/gpu"
ORDER = (GPU, "cpu", "memory")
WORKLOADS = {"apps/v1.Deployment", "apps/v1.StatefulSet"}


def parse(resource: str, value: Any) -> int:
    """cpu -> millicores, memory -> bytes, anything else (GPUs) -> a whole count."""
    if resource == "cpu":
        return parse_cpu(value)
    if resource == "memory":
        return parse_memory_bytes(value)
    return int(parse_cpu(value) // 1000)


def _memory(amount: int) -> str:
    gib = amount / 2 ** 30
    return f"{int(gib)}Gi" if amount % 2 ** 30 == 0 else f"{gib:.1f}Gi"


def show(resource: str, amount: int) -> str:
    if resource == "cpu":
        return f"{format_cpu(amount)} CPU"
    if resource == "memory":
        return f"{_memory(amount)} memory"
    return f"{amount} {resource}"


@dataclass
class TenantNeed:
    total: dict[str, int] = field(default_factory=dict)
    # largest single-pod request per resource, with the workload that asks for it
    per_pod: dict[str, tuple[int, str]] = field(default_factory=dict)


def pod_requests(pod_spec: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in pod_spec.get("containers") or ():
        for res, value in ((c.get("resources") or {}).get("requests") or {}).items():
            if res in ORDER:
                out[res] = out.get(res, 0) + parse(res, value)
    # GPUs given only as limits count as requests (Kubernetes defaults requests to limits)
    for c in pod_spec.get("containers") or ():
        r = c.get("resources") or {}
        if GPU in (r.get("limits") or {}) and GPU not in (r.get("requests") or {}):
            out[GPU] = out.get(GPU, 0) + parse(GPU, r["limits"][GPU])
    return out


def tenant_needs(resources: Iterable[Resource]) -> dict[str, TenantNeed]:
    needs: dict[str, TenantNeed] = {}
    for r in resources:
        if r.provider != "kubernetes" or r.type not in WORKLOADS:
            continue
        spec = r.attributes.get("spec") or {}
        replicas = spec.get("replicas", 1)
        per_pod = pod_requests(((spec.get("template") or {}).get("spec")) or {})
        need = needs.setdefault(r.tenant, TenantNeed())
        for res, amount in per_pod.items():
            need.total[res] = need.total.get(res, 0) + amount * replicas
            if amount > need.per_pod.get(res, (0, ""))[0]:
                need.per_pod[res] = (amount, r.name)
    return needs


@dataclass(frozen=True)
class Allocatable:
    total: Mapping[str, int]
    largest: Mapping[str, int]
    nodes: int


def allocatable(nodes: Iterable[Mapping[str, Any]]) -> Allocatable:
    total: dict[str, int] = {r: 0 for r in ORDER}
    largest: dict[str, int] = {r: 0 for r in ORDER}
    count = 0
    for n in nodes:
        if (n.get("spec") or {}).get("unschedulable"):
            continue
        count += 1
        alloc = (n.get("status") or {}).get("allocatable") or {}
        for res in ORDER:
            try:
                amount = parse(res, alloc[res]) if res in alloc else 0
            except ValueError:
                amount = 0
            total[res] += amount
            largest[res] = max(largest[res], amount)
    return Allocatable(total, largest, count)


def check(resources: Iterable[Resource], alloc: Allocatable, *, strict: bool) -> list[Diagnostic]:
    make = Diagnostic.error if strict else Diagnostic.warning
    diags: list[Diagnostic] = []
    for tenant, need in sorted(tenant_needs(resources).items()):
        for res in ORDER:
            asked = need.total.get(res, 0)
            if asked and asked > alloc.total.get(res, 0):
                diags.append(make(
                    f"tenant {tenant}: requests {show(res, asked)} but the cluster's nodes can "
                    f"allocate {_amount(res, alloc.total.get(res, 0))} in total"))
            per_pod, workload = need.per_pod.get(res, (0, ""))
            if per_pod and per_pod > alloc.largest.get(res, 0) and alloc.nodes:
                diags.append(make(
                    f"tenant {tenant}: {workload} asks for {show(res, per_pod)} per pod but no node "
                    f"can allocate more than {_amount(res, alloc.largest.get(res, 0))}"))
    return diags


def workload_selector(attrs: Mapping[str, Any]) -> tuple[str, Mapping[str, str]]:
    md = attrs.get("metadata") or {}
    sel = ((attrs.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return md.get("namespace") or "", sel


def check_placement(resources: Iterable[Resource], nodes: list[Mapping[str, Any]],
                    pods: list[Mapping[str, Any]], leaving: Iterable[Mapping[str, Any]], *,
                    strict: bool, reported: set[str] = frozenset()) -> list[Diagnostic]:
    """Every desired pod placed on the nodes beside what the cluster already runs, less the pods
    of workloads the plan removes or replaces; one diagnostic per workload that does not fit,
    unless the whole-cluster check already named that tenant (`reported`)."""
    make = Diagnostic.error if strict else Diagnostic.warning
    workloads = [r for r in resources if r.provider == "kubernetes" and r.type in WORKLOADS]
    going = [workload_selector(r.attributes) for r in workloads]
    going += [workload_selector(a) for a in leaving]
    room = placement.nodes_with_room(nodes, pods, leaving=going)
    wants = []
    for r in workloads:
        spec = r.attributes.get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        wants.append(placement.Want(r.tenant, r.name, pod_spec, int(spec.get("replicas", 1)),
                                    placement.pod_requests(pod_spec)))
    diags = []
    for m in placement.place(wants, room):
        if m.tenant in reported:
            continue
        pods_text = f"{m.replicas_left} pod{'s' if m.replicas_left != 1 else ''} of {m.workload}"
        if m.no_node:
            diags.append(make(f"tenant {m.tenant}: {pods_text} cannot be placed: {m.no_node}"))
            continue
        diags.append(make(
            f"tenant {m.tenant}: {pods_text} need{'s' if m.replicas_left == 1 else ''} "
            f"{show(m.resource, m.needed)} each, but beside "
            f"what the cluster already runs the most free on one node is "
            f"{_amount(m.resource, m.free)} (node {m.best_node}; "
            f"{_amount(m.resource, m.total_free)} free in total)"))
    return diags


def _amount(res: str, amount: int) -> str:
    if res == "cpu":
        return format_cpu(amount)
    if res == "memory":
        return _memory(amount)
    return str(amount)
