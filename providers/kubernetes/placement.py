"""Where pods fit: each schedulable node's allocatable resources, less the requests of every pod
the cluster already runs on it (anyone's, not only ecpctl's), and a first-fit placement of the pods
a plan wants, honouring node selectors and taints/tolerations as the scheduler does.

Resources are counted by name: cpu (millicores), memory (bytes), and every extended resource a
node advertises (`nvidia.com/gpu`, MIG slices such as `nvidia.com/mig-1g.10gb`), each a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Mapping

from ecpctl.kernel.quantity import parse_cpu, parse_memory_bytes

IGNORED = {"pods", "ephemeral-storage", "hugepages-1Gi", "hugepages-2Mi"}
DONE_PHASES = {"Succeeded", "Failed"}


def parse(resource: str, value: Any) -> int:
    """cpu -> millicores, memory -> bytes, anything else (GPUs, MIG slices) -> a whole count."""
    if resource == "cpu":
        return parse_cpu(value)
    if resource == "memory":
        return parse_memory_bytes(value)
    return int(parse_cpu(value) // 1000)


def pod_requests(pod_spec: Mapping[str, Any]) -> dict[str, int]:
    """What one pod asks for; an extended resource given only as a limit counts as requested
    (Kubernetes defaults the request to the limit)."""
    out: dict[str, int] = {}
    for c in pod_spec.get("containers") or ():
        res = c.get("resources") or {}
        requests = dict(res.get("requests") or {})
        for name, value in (res.get("limits") or {}).items():
            if name not in ("cpu", "memory"):
                requests.setdefault(name, value)
        for name, value in requests.items():
            if name in IGNORED:
                continue
            try:
                out[name] = out.get(name, 0) + parse(name, value)
            except ValueError:
                continue
    return out


@dataclass
class Node:
    name: str
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, Any], ...]
    free: dict[str, int]


def nodes_with_room(nodes: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]],
                    *, leaving: Iterable[tuple[str, Mapping[str, str]]] = ()) -> list[Node]:
    """Schedulable nodes with allocatable minus the requests of the pods bound to them, except
    pods of workloads in `leaving` ((namespace, selector) of workloads the plan removes or
    replaces: their pods go away)."""
    out: dict[str, Node] = {}
    for n in nodes:
        md, spec = n.get("metadata") or {}, n.get("spec") or {}
        if spec.get("unschedulable"):
            continue
        alloc = (n.get("status") or {}).get("allocatable") or {}
        free = {}
        for res, value in alloc.items():
            if res in IGNORED:
                continue
            try:
                free[res] = parse(res, value)
            except ValueError:
                continue
        out[md.get("name", "")] = Node(md.get("name", ""), md.get("labels") or {},
                                       tuple(spec.get("taints") or ()), free)
    going = list(leaving)
    for p in pods:
        md, spec = p.get("metadata") or {}, p.get("spec") or {}
        node = out.get(spec.get("nodeName") or "")
        if node is None or (p.get("status") or {}).get("phase") in DONE_PHASES:
            continue
        labels = md.get("labels") or {}
        if any(md.get("namespace") == ns and sel and all(labels.get(k) == v for k, v in sel.items())
               for ns, sel in going):
            continue
        for res, amount in pod_requests(spec).items():
            node.free[res] = node.free.get(res, 0) - amount
    return list(out.values())


def tolerates(pod_spec: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if taint.get("effect") not in ("NoSchedule", "NoExecute"):
        return True
    for t in pod_spec.get("tolerations") or ():
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def eligible(node: Node, pod_spec: Mapping[str, Any]) -> bool:
    """The node's labels match the pod's nodeSelector and the pod tolerates its taints."""
    sel = pod_spec.get("nodeSelector") or {}
    if any(node.labels.get(k) != v for k, v in sel.items()):
        return False
    return all(tolerates(pod_spec, t) for t in node.taints)


@dataclass
class Misfit:
    """Replicas of a workload that fit on no node: the resource that stops them, what one pod
    needs, the most any eligible node has free (`best_node`), the free amount across eligible
    nodes, or `no_node` saying why no node was eligible at all."""

    tenant: str
    workload: str
    resource: str
    needed: int
    free: int
    total_free: int
    best_node: str
    replicas_left: int
    no_node: str = ""


@dataclass
class Want:
    tenant: str
    workload: str
    pod_spec: Mapping[str, Any]
    replicas: int
    requests: dict[str, int] = field(default_factory=dict)


def place(wants: Iterable[Want], nodes: list[Node]) -> list[Misfit]:
    """First fit, largest pods first (as a scheduler spreading nothing would, at best); each
    workload that cannot place all its replicas gives one Misfit for its scarcest resource."""
    misfits: list[Misfit] = []
    ordered = sorted(wants, key=lambda w: tuple(-w.requests.get(r, 0)
                                                for r in _scarce_first(w.requests)))
    for w in ordered:
        candidates = [n for n in nodes if eligible(n, w.pod_spec)]
        for i in range(w.replicas):
            spot = next((n for n in candidates
                         if all(n.free.get(r, 0) >= a for r, a in w.requests.items())), None)
            if spot is None:
                misfits.append(_why(w, candidates, w.replicas - i))
                break
            for r, a in w.requests.items():
                spot.free[r] = spot.free.get(r, 0) - a
    return misfits


def _scarce_first(requests: Mapping[str, int]) -> list[str]:
    return sorted(requests, key=lambda r: (r in ("cpu", "memory"), r))


def _why(w: Want, candidates: list[Node], left: int) -> Misfit:
    order = _scarce_first(w.requests) or ["cpu"]
    if not candidates:
        sel = w.pod_spec.get("nodeSelector") or {}
        why = ("no node matches its node selector "
               + ", ".join(f"{k}={v}" for k, v in sorted(sel.items())) if sel
               else "no schedulable node takes it (taints it does not tolerate)")
        return Misfit(w.tenant, w.workload, order[0], w.requests.get(order[0], 0), 0, 0, "",
                      left, no_node=why)
    short = next((r for r in order
                  if max(n.free.get(r, 0) for n in candidates) < w.requests[r]), order[0])
    best = max(candidates, key=lambda n: n.free.get(short, 0))
    total = sum(max(0, n.free.get(short, 0)) for n in candidates)
    return Misfit(w.tenant, w.workload, short, w.requests.get(short, 0),
                  max(0, best.free.get(short, 0)), total, best.name, left)
