"""The simulation as Prometheus' text exposition format, with the metric names and labels of the
exporters a real cluster has: the services' own request metrics, the kubelet's cAdvisor,
kube-state-metrics and NVIDIA's dcgm-exporter (pod-mapped labels)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ecpctl.sandbox.simulator.model import BUCKETS, Simulation, Workload

GPU_MODEL = "Tesla T4"


def _labels(**kv: str) -> str:
    def esc(v: str) -> str:
        return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kv.items()) + "}"


def _num(v: float) -> str:
    if math.isinf(v):
        return "+Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


def _count(n: float) -> str:
    """A simulated counter keeps its fraction: whole-number counts cut separately from each
    bucket and from the total would skew every quantile (a bucket one request short of the
    total reads as 5% of the requests above it at 20 requests per window)."""
    return f"{n:.3f}"


def render(sim: Simulation, workloads: Iterable[Workload]) -> str:
    workloads = list(workloads)
    out: list[str] = []

    def family(name: str, kind: str, help_: str) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")

    family("ecp_requests_total", "counter", "Requests answered by the service, by HTTP status code.")
    for (tenant, ns, svc, code), n in sorted(sim.requests.items()):
        out.append("ecp_requests_total" + _labels(job=svc, namespace=ns, service=svc,
                                                  tenant_id=tenant, code=code)
                   + f" {_count(n)}")
    family("ecp_request_duration_seconds", "histogram", "Time to answer a request.")
    for (tenant, ns, svc), h in sorted(sim.latency.items()):
        base = dict(job=svc, namespace=ns, service=svc, tenant_id=tenant)
        for bound, n in zip(BUCKETS, h.buckets):
            out.append("ecp_request_duration_seconds_bucket" + _labels(**base, le=_num(bound))
                       + f" {_count(n)}")
        out.append("ecp_request_duration_seconds_bucket" + _labels(**base, le="+Inf")
                   + f" {_count(h.count)}")
        out.append("ecp_request_duration_seconds_count" + _labels(**base)
                   + f" {_count(h.count)}")
        out.append("ecp_request_duration_seconds_sum" + _labels(**base) + f" {h.sum:.6f}")

    pods = {(w.namespace, p.name): (w, p) for w in workloads for p in w.pods}
    cadvisor = [(pods[(ns, pod)], use) for (ns, pod, _), use in sorted(sim.usage.items())
                if (ns, pod) in pods]

    def cadvisor_labels(w, p) -> str:
        return _labels(job="kubelet", metrics_path="/metrics/cadvisor", node=p.node,
                       namespace=w.namespace, pod=p.name, container=p.container, image=p.image,
                       id=f"/kubepods/burstable/pod{p.uid}/{p.container}",
                       name=f"k8s_{p.container}_{p.name}_{w.namespace}_{p.uid}_0")

    family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.")
    for (w, p), use in cadvisor:
        out.append("container_cpu_usage_seconds_total" + cadvisor_labels(w, p)
                   + f" {use.cpu_seconds:.6f}")
    family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.")
    for (w, p), use in cadvisor:
        out.append("container_memory_working_set_bytes" + cadvisor_labels(w, p)
                   + f" {math.floor(use.memory)}")

    family("kube_pod_container_resource_limits", "gauge",
           "The number of requested limit resource by a container.")
    for w in workloads:
        for p in w.pods:
            base = dict(job="kube-state-metrics", namespace=w.namespace, pod=p.name, uid=p.uid,
                        container=p.container, node=p.node)
            out.append("kube_pod_container_resource_limits"
                       + _labels(**base, resource="cpu", unit="core") + f" {_num(p.cpu_limit)}")
            out.append("kube_pod_container_resource_limits"
                       + _labels(**base, resource="memory", unit="byte")
                       + f" {_num(p.memory_limit)}")
            if p.gpus:
                out.append("kube_pod_container_resource_limits"
                           + _labels(**base, resource="nvidia_com_gpu", unit="integer")
                           + f" {p.gpus}")
    family("kube_deployment_status_replicas_available", "gauge",
           "The number of available replicas per deployment.")
    for w in workloads:
        out.append("kube_deployment_status_replicas_available"
                   + _labels(job="kube-state-metrics", namespace=w.namespace, deployment=w.service)
                   + f" {w.available}")
    family("kube_deployment_spec_replicas", "gauge", "Number of desired pods for a deployment.")
    for w in workloads:
        out.append("kube_deployment_spec_replicas"
                   + _labels(job="kube-state-metrics", namespace=w.namespace, deployment=w.service)
                   + f" {w.replicas}")

    family("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).")
    for (w, p), use in cadvisor:
        for i in range(p.gpus if p.ready else 0):
            out.append("DCGM_FI_DEV_GPU_UTIL" + _labels(
                job="dcgm-exporter", gpu=str(i), UUID=f"GPU-{p.uid[:8]}-{i}", device=f"nvidia{i}",
                modelName=GPU_MODEL, Hostname=p.node, container=p.container,
                namespace=w.namespace, pod=p.name) + f" {use.gpu_util:.1f}")
    return "\n".join(out) + "\n"
