"""What the simulator reads from the API server (ecpctl's Deployments, their pods, the nodes) and
how it carries out faults there: annotations kwok's sandbox stages act on, node status patches."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from ecpctl.kernel.ownership import TENANT_LABEL
from ecpctl.kernel.quantity import parse_cpu, parse_memory_bytes
from ecpctl.sandbox.faults import (
    CRASH_ANNOTATION,
    GPUS_LOST_ANNOTATION,
    KWOK_NODE_ANNOTATION,
    NODE_FAULT_ANNOTATION,
    Fault,
)
from ecpctl.sandbox.simulator.model import Pod, Workload

PART_OF = "app.kubernetes.io/part-of=ecp-ai"
GPU = "nvidia.com/gpu"
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}


class Cluster:
    def __init__(self, server: str, ca: str, cert: str, key: str):
        tls = ssl.create_default_context(cafile=ca)
        tls.load_cert_chain(cert, key)
        self.http = httpx.Client(base_url=server, verify=tls, timeout=10, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def _list(self, path: str, **params: str) -> list[dict[str, Any]]:
        r = self.http.get(path, params=params)
        r.raise_for_status()
        return r.json().get("items") or []

    def nodes(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/nodes")

    def pods(self) -> list[dict[str, Any]]:
        return self._list("/api/v1/pods", labelSelector=PART_OF)

    def workloads(self, pods: list[dict[str, Any]]) -> list[Workload]:
        deployments = self._list("/apis/apps/v1/deployments", labelSelector=PART_OF)
        sla = {}
        for cm in self._list("/api/v1/configmaps", labelSelector=PART_OF,
                             fieldSelector="metadata.name=ecp-ai-config"):
            ms = (cm.get("data") or {}).get("SLA_RESPONSE_TIME_MS")
            if ms and ms.isdigit():
                sla[cm["metadata"]["namespace"]] = int(ms) / 1000
        out = []
        for d in deployments:
            md, spec = d["metadata"], d.get("spec") or {}
            tenant = (md.get("labels") or {}).get(TENANT_LABEL)
            if not tenant:
                continue
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            container = ((spec.get("template") or {}).get("spec") or {}).get("containers", [{}])[0]
            env = {e.get("name"): e.get("value") for e in container.get("env") or []}
            mine = [p for p in pods if p["metadata"]["namespace"] == md["namespace"]
                    and selector and all((p["metadata"].get("labels") or {}).get(k) == v
                                         for k, v in selector.items())]
            out.append(Workload(
                tenant=tenant, namespace=md["namespace"], service=md["name"],
                sessions=int(env.get("MAX_SESSIONS") or 0), replicas=int(spec.get("replicas") or 0),
                available=int((d.get("status") or {}).get("availableReplicas") or 0),
                sla_seconds=sla.get(md["namespace"], 0.2),
                pods=tuple(_pod(p) for p in mine if not p["metadata"].get("deletionTimestamp")),
                rolled_out=_rolled_out(d)))
        return out

    def patch(self, path: str, body: dict[str, Any]) -> None:
        r = self.http.patch(path, json=body, headers=MERGE)
        if r.status_code != 404:       # gone meanwhile: nothing to do
            r.raise_for_status()

    # --- faults ------------------------------------------------------------------------------

    def reconcile(self, faults: list[Fault], pods: list[dict[str, Any]],
                  nodes: list[dict[str, Any]]) -> None:
        """Make pods and nodes carry exactly the marks the active faults ask for."""
        down = {f.node for f in faults if f.scenario == "node_down" and f.node}
        gpu_lost = {f.node for f in faults if f.scenario == "gpu_loss" and f.node}
        for n in nodes:
            md = n["metadata"]
            ann = md.get("annotations") or {}
            name = md["name"]
            if (md.get("labels") or {}).get("type") != "kwok":
                continue
            if ann.get(KWOK_NODE_ANNOTATION) != "fake":
                # kwok must keep managing the node: it reports the NotReady status of node_down
                # (a kwok stage) and finishes the deletion of the pods the node controller evicts
                self.patch(f"/api/v1/nodes/{name}",
                           {"metadata": {"annotations": {KWOK_NODE_ANNOTATION: "fake"}}})
            if (name in down) != (ann.get(NODE_FAULT_ANNOTATION) == "down"):
                self.patch(f"/api/v1/nodes/{name}", {"metadata": {"annotations": {
                    NODE_FAULT_ANNOTATION: "down" if name in down else None}}})
            alloc = (n.get("status") or {}).get("allocatable") or {}
            if name in gpu_lost and GPUS_LOST_ANNOTATION not in ann:
                before = str(alloc.get(GPU, "0"))
                self.patch(f"/api/v1/nodes/{name}",
                           {"metadata": {"annotations": {GPUS_LOST_ANNOTATION: before}}})
                self.patch(f"/api/v1/nodes/{name}/status",
                           {"status": {"allocatable": {GPU: "0"}, "capacity": {GPU: "0"}}})
            elif name not in gpu_lost and GPUS_LOST_ANNOTATION in ann:
                before = ann[GPUS_LOST_ANNOTATION]
                self.patch(f"/api/v1/nodes/{name}/status",
                           {"status": {"allocatable": {GPU: before}, "capacity": {GPU: before}}})
                self.patch(f"/api/v1/nodes/{name}",
                           {"metadata": {"annotations": {GPUS_LOST_ANNOTATION: None}}})
        ready_nodes = {n["metadata"]["name"] for n in nodes if _condition(n, "Ready") == "True"
                       and n["metadata"]["name"] not in down}
        for p in pods:
            md = p["metadata"]
            if md.get("deletionTimestamp"):
                continue
            want = _crashes(p, faults)
            has = (md.get("annotations") or {}).get(CRASH_ANNOTATION) == "crash"
            if want != has:
                self.patch(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}",
                           {"metadata": {"annotations": {CRASH_ANNOTATION: "crash" if want
                                                         else None}}})
            elif (p.get("spec") or {}).get("nodeName") in down \
                    and _condition(p, "Ready") == "True":
                # what the node controller does to the pods of a node that stopped posting its
                # status (MarkPodsNotReady); kwok keeps the node's lease, so it would not here
                self._set_ready(md, False)
            elif not has and _reported_ready_again(p, ready_nodes):
                # on a real node the kubelet reports its pods Ready again once the node is back
                # (if they were not evicted meanwhile); here nobody else would
                self._set_ready(md, True)

    def _set_ready(self, md: dict[str, Any], ready: bool) -> None:
        status = "True" if ready else "False"
        r = self.http.patch(
            f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}/status",
            json={"status": {"conditions": [{"type": "Ready", "status": status},
                                            {"type": "ContainersReady", "status": status}]}},
            headers=STRATEGIC)
        if r.status_code != 404:
            r.raise_for_status()


def _rolled_out(deployment: dict[str, Any]) -> bool:
    """The deployment controller has finished a rollout of it at least once."""
    for c in (deployment.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "NewReplicaSetAvailable":
            return True
    return False


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c.get("status")
    return None


def _reported_ready_again(pod: dict[str, Any], ready_nodes: set[str]) -> bool:
    """A running pod whose containers all run, on a Ready node, that is still marked not Ready."""
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    return (status.get("phase") == "Running" and (pod.get("spec") or {}).get("nodeName")
            in ready_nodes and _condition(pod, "Ready") == "False" and bool(containers)
            and all("running" in (c.get("state") or {}) for c in containers))


def _crashes(pod: dict[str, Any], faults: list[Fault]) -> bool:
    labels = pod["metadata"].get("labels") or {}
    tenant, service = labels.get(TENANT_LABEL), labels.get("ecp.ai/service")
    for f in faults:
        if not (tenant and service and f.covers(tenant, service)):
            continue
        if f.scenario == "pod_crash":
            return True
        if f.scenario == "gpu_loss" and (pod.get("spec") or {}).get("nodeName") == f.node \
                and _pod_gpus(pod):
            return True
    return False


def _pod_gpus(pod: dict[str, Any]) -> int:
    c = ((pod.get("spec") or {}).get("containers") or [{}])[0]
    return int(((c.get("resources") or {}).get("limits") or {}).get(GPU) or 0)


def _pod(p: dict[str, Any]) -> Pod:
    md, spec, status = p["metadata"], p.get("spec") or {}, p.get("status") or {}
    c = (spec.get("containers") or [{}])[0]
    limits = (c.get("resources") or {}).get("limits") or {}
    conds = {x.get("type"): x.get("status") for x in status.get("conditions") or []}
    return Pod(name=md["name"], uid=md.get("uid", ""), node=spec.get("nodeName") or "",
               ready=conds.get("Ready") == "True", running=status.get("phase") == "Running",
               container=c.get("name", ""), image=c.get("image", ""),
               cpu_limit=parse_cpu(str(limits.get("cpu", "0"))) / 1000,
               memory_limit=float(parse_memory_bytes(str(limits.get("memory", "0")))),
               gpus=_pod_gpus(p))
