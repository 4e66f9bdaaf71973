"""Checks and choices made when a fault is injected: the tenant (and service) must exist in the
sandbox's cluster, and node scenarios pick the node that runs most of the tenant's pods."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ecpctl.kernel import EcpctlError
from ecpctl.kernel.ownership import TENANT_LABEL
from ecpctl.sandbox.simulator.cluster import Cluster


def cluster_of(rec: dict[str, Any]) -> Cluster:
    pki = Path(rec["dir"]) / "kube" / "pki"
    return Cluster(rec["server"], str(pki / "ca.crt"), str(pki / "admin.crt"),
                   str(pki / "admin.key"))


def _pods(rec: dict[str, Any], tenant: str, service: str | None) -> list[dict[str, Any]]:
    c = cluster_of(rec)
    try:
        pods = c.pods()
    finally:
        c.close()
    return [p for p in pods if (p["metadata"].get("labels") or {}).get(TENANT_LABEL) == tenant
            and service in (None, (p["metadata"].get("labels") or {}).get("ecp.ai/service"))]


def check_target(rec: dict[str, Any], tenant: str, service: str | None) -> None:
    if not _pods(rec, tenant, None):
        raise EcpctlError(f"tenant {tenant} has no pods in the sandbox (apply it first)")
    if service and not _pods(rec, tenant, service):
        raise EcpctlError(f"tenant {tenant} has no service {service} in the sandbox")


def choose_node(rec: dict[str, Any], tenant: str, service: str | None, *, gpus: bool) -> str:
    pods = _pods(rec, tenant, service)
    if gpus:
        pods = [p for p in pods if any(
            ((c.get("resources") or {}).get("limits") or {}).get("nvidia.com/gpu")
            for c in (p.get("spec") or {}).get("containers") or [])]
        if not pods:
            raise EcpctlError(f"tenant {tenant} runs no GPU pod"
                              + (f" in {service}" if service else ""))
    counts = Counter((p.get("spec") or {}).get("nodeName") for p in pods)
    counts.pop(None, None)
    if not counts:
        raise EcpctlError(f"no pod of tenant {tenant} is scheduled on a node")
    return str(counts.most_common(1)[0][0])
