"""A tenant's usage recording rules and built-in service alerts, from the series that real exporters
publish, so that the product documents' conditions (`cpu_usage > 80`) work as written on any
cluster with kube-prometheus-stack and NVIDIA's dcgm-exporter (and in the sandbox, whose simulator
publishes the same names and labels).

    cpu_usage{tenant_id, namespace, service}     % of the CPU limit      (cAdvisor / kube-state-metrics)
    memory_usage{tenant_id, namespace, service}  % of the memory limit   (cAdvisor / kube-state-metrics)
    gpu_usage{tenant_id, namespace, service}     % utilisation of the GPUs the service holds (DCGM)

Alerts: ServiceDown (no available replica for 2m, critical) and LatencyAboveSLA (p95 above the
SLA's response time for 5m, warning).
"""

from __future__ import annotations

from decimal import Decimal

from ecpctl.slo import compress

RATE_WINDOW = "2m"
LATENCY_WINDOW = "5m"
SERVICE_DOWN_FOR = "2m"
LATENCY_FOR = "5m"
RECORDED = ("cpu_usage", "memory_usage", "gpu_usage")
# metric names (or prefixes, ending in _) that the exporters ecpctl knows publish
EXPORTED = ("ecp_requests_total", "ecp_request_duration_seconds_bucket",
            "ecp_request_duration_seconds_count", "ecp_request_duration_seconds_sum",
            "container_", "kube_", "DCGM_FI_", "node_", "up", "ALERTS", "ALERTS_FOR_STATE")


def _as_service(expr: str) -> str:
    return f'label_replace({expr}, "service", "$1", "container", "(.+)")'


def usage_group(tenant_id: str, namespace: str, services: list[str], compression: int = 1) -> dict:
    ns = f'namespace="{namespace}"'
    containers = f'container=~"{"|".join(services)}"'
    w = compress(RATE_WINDOW, compression)
    labels = {"tenant_id": tenant_id}

    def share(usage: str, resource: str) -> str:
        return (f"100 * sum by (namespace, container) ({usage}) / sum by (namespace, container) "
                f'(kube_pod_container_resource_limits{{{ns},{containers},resource="{resource}"}})')

    return {"name": f"ecp-ai-{tenant_id}-usage", "rules": [
        {"record": "cpu_usage", "labels": labels, "expr": _as_service(share(
            f"rate(container_cpu_usage_seconds_total{{{ns},{containers}}}[{w}])", "cpu"))},
        {"record": "memory_usage", "labels": labels, "expr": _as_service(share(
            f"container_memory_working_set_bytes{{{ns},{containers}}}", "memory"))},
        {"record": "gpu_usage", "labels": labels, "expr": _as_service(
            f"avg by (namespace, container) (DCGM_FI_DEV_GPU_UTIL{{{ns},{containers}}})")},
    ]}


def service_alerts_group(tenant_id: str, namespace: str, services: list[str], sla_ms: int,
                         compression: int = 1) -> dict:
    sla_s = format((Decimal(sla_ms) / 1000).normalize(), "f")
    labels = {"tenant_id": tenant_id, "namespace": namespace}
    deployments = "|".join(services)
    return {"name": f"ecp-ai-{tenant_id}-services", "rules": [
        {"alert": "ServiceDown",
         "expr": 'label_replace(kube_deployment_status_replicas_available{namespace="'
                 f'{namespace}",deployment=~"{deployments}"}} == 0, "service", "$1", '
                 '"deployment", "(.+)")',
         "for": compress(SERVICE_DOWN_FOR, compression),
         "labels": {"severity": "critical", **labels},
         "annotations": {"summary": f"Tenant {tenant_id}: service {{{{ $labels.service }}}} has "
                                    "no available replica"}},
        {"alert": "LatencyAboveSLA",
         "expr": "histogram_quantile(0.95, sum by (le, service) (rate("
                 f'ecp_request_duration_seconds_bucket{{tenant_id="{tenant_id}"}}'
                 f"[{compress(LATENCY_WINDOW, compression)}]))) > {sla_s}",
         "for": compress(LATENCY_FOR, compression),
         "labels": {"severity": "warning", **labels},
         "annotations": {"summary": f"Tenant {tenant_id}: p95 latency of {{{{ $labels.service }}}} "
                                    f"is above the SLA's {sla_ms}ms"}},
    ]}


def known_metric(name: str, recorded: set[str]) -> bool:
    """True when a generated rule records `name` or a known exporter publishes it."""
    if name in recorded:
        return True
    return any(name == e or (e.endswith("_") and name.startswith(e)) for e in EXPORTED)
