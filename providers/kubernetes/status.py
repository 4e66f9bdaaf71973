"""Tenant status from the cluster: per service, desired and ready replicas, and why pods are pending.

Two LISTs (ecpctl's Deployments and their pods, cluster-wide by label), plus event reads only for
pending pods whose own conditions do not say why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from collections.abc import Iterable, Mapping

from ecpctl.kernel import Resource
from providers.kubernetes.client import KubeClient
from providers.kubernetes.kinds import builtin
from providers.kubernetes.read import index, list_objects
from providers.kubernetes.ready import check, explain_pods

READY, PROGRESSING, DEGRADED, MISSING = "ready", "progressing", "degraded", "not deployed"


@dataclass
class ServiceStatus:
    tenant: str
    namespace: str | None
    service: str
    configured_replicas: int | None        # what the spec asks for
    desired_replicas: int | None           # live spec.replicas (an HPA may have changed it)
    ready_replicas: int = 0
    available_replicas: int = 0
    updated_replicas: int = 0
    status: str = MISSING
    pending_pods: int = 0
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def collect(client: KubeClient, deployments: Iterable[Resource]) -> list[ServiceStatus]:
    wanted = [d for d in deployments if d.type == "apps/v1.Deployment"]
    if not wanted:
        return []
    dep_info, pod_info = builtin("apps/v1", "Deployment"), builtin("v1", "Pod")
    assert dep_info is not None and pod_info is not None
    live = index(list_objects(client, dep_info))
    pods = list_objects(client, pod_info)
    out: list[ServiceStatus] = []
    for d in sorted(wanted, key=lambda r: (r.tenant, r.name)):
        md = d.attributes.get("metadata") or {}
        ns, name = md.get("namespace"), md.get("name")
        row = ServiceStatus(tenant=d.tenant, namespace=ns, service=name,
                            configured_replicas=(d.attributes.get("spec") or {}).get("replicas"),
                            desired_replicas=None)
        obj = live.get((ns, name))
        if obj is None:
            out.append(row)
            continue
        spec, st = obj.get("spec") or {}, obj.get("status") or {}
        row.desired_replicas = spec.get("replicas", 1)
        row.ready_replicas = st.get("readyReplicas", 0)
        row.available_replicas = st.get("availableReplicas", 0)
        row.updated_replicas = st.get("updatedReplicas", 0)
        selector = ((spec.get("selector") or {}).get("matchLabels")) or {}
        mine = [p for p in pods
                if (p.get("metadata") or {}).get("namespace") == ns
                and _matches((p.get("metadata") or {}).get("labels") or {}, selector)
                and not (p.get("metadata") or {}).get("deletionTimestamp")]
        row.pending_pods = sum(1 for p in mine if (p.get("status") or {}).get("phase") == "Pending")
        ok, _ = check(obj)
        for c in st.get("conditions") or ():
            if c.get("type") == "ReplicaFailure" and c.get("status") == "True":
                row.problems.append(f"{c.get('reason', 'ReplicaFailure')}: {c.get('message', '')}")
        row.problems.extend(explain_pods(client, mine))
        if ok:
            row.status = READY
        elif row.problems:
            row.status = DEGRADED
        else:
            row.status = PROGRESSING
        out.append(row)
    return out
