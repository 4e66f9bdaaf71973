"""The fleet Grafana dashboard, as plain JSON: every tenant of a workspace on one page.

Panels: active tenants, per-tenant CPU, memory and GPU (as a share of their limits, from the
cpu_usage / memory_usage / gpu_usage recording rules each tenant's PrometheusRule defines, and in
absolute figures from cAdvisor, kube-state-metrics and dcgm-exporter), and the deployment success
rate from kube-state-metrics.

A workspace's tenants are the namespaces with its namespace prefix: that is what separates two
workspaces on one cluster (the kube-state-metrics and cAdvisor series carry no tenant label), and
`tenant` on the legends is the namespace with the prefix cut off.

Uids hold an underscore, which no tenant uid can (a tenant id is a DNS label), so the fleet
folder and dashboard can never take a tenant's uid; they carry the namespace prefix, so that two
workspaces with their own prefixes can share a Grafana.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ecpctl.dashboards import UID_MAX, _panel, _row
from ecpctl.kernel.ownership import DASHBOARD_TAG as TAG

FLEET_TAG = "fleet"
RATE = "$__rate_interval"       # Grafana's rate window; tests put a duration in its place


def _fleet_uid(namespace_prefix: str, what: str) -> str:
    """`<prefix>_<what>`; a prefix too long for Grafana's 40 characters is cut and hashed, never
    the `_<what>` that keeps the uid apart from every tenant's."""
    head, tail = namespace_prefix.rstrip("-") or "ecp", f"_{what}"
    room = UID_MAX - len(tail)
    if len(head) > room:
        head = f"{head[:room - 9]}-{hashlib.sha256(head.encode()).hexdigest()[:8]}"
    return head + tail


def folder_uid(namespace_prefix: str) -> str:
    return _fleet_uid(namespace_prefix, "fleet")


def dashboard_uid(namespace_prefix: str) -> str:
    return _fleet_uid(namespace_prefix, "fleet-overview")


def folder_title(folder_prefix: str, namespace_prefix: str) -> str:
    """`ECP-AI fleet (ecp-ai-*)`: never a tenant folder's `ECP-AI / <title>`."""
    return f"{folder_prefix} fleet ({namespace_prefix}*)"


def _tenant(expr: str, prefix: str) -> str:
    """`expr` with a `tenant` label: its namespace without the prefix."""
    return f'label_replace({expr}, "tenant", "$1", "namespace", "{prefix}(.+)")'


def queries(prefix: str) -> dict[str, str]:
    """Every query of the dashboard by key (`$__rate_interval` in rates), for the panels and tests.

    `prefix` is the namespace prefix; it holds only [a-z0-9-], nothing a regex reads specially.
    """
    ns = f'namespace=~"{prefix}.+"'
    cont = f'{ns},container!="",container!="POD"'
    available = f"kube_deployment_status_replicas_available{{{ns}}}"
    desired = f"kube_deployment_spec_replicas{{{ns}}}"
    # 1 per deployment with every desired replica available, 0 otherwise (kube-state-metrics
    # gives both series the same labels, so they match one to one)
    ok = f"({available} >= bool {desired})"
    return {
        "active_tenants": f"count(count by (namespace) ({available} > 0)) or vector(0)",
        "tenants_deployed": f"count(count by (namespace) ({desired})) or vector(0)",
        "success_rate": f"sum({ok}) / count({desired})",
        "deployments_failing": f"count({available} < {desired}) or vector(0)",
        "success_rate_by_tenant": _tenant(f"sum by (namespace) ({ok}) / count by (namespace) "
                                          f"({desired})", prefix),
        "cpu_usage": f"avg by (tenant_id) (cpu_usage{{{ns}}})",
        "memory_usage": f"avg by (tenant_id) (memory_usage{{{ns}}})",
        "gpu_usage": f"avg by (tenant_id) (gpu_usage{{{ns}}})",
        "cpu_cores": _tenant(f"sum by (namespace) (rate(container_cpu_usage_seconds_total"
                             f"{{{cont}}}[{RATE}]))", prefix),
        "memory_bytes": _tenant(f"sum by (namespace) (container_memory_working_set_bytes"
                                f"{{{cont}}})", prefix),
        "gpus_held": _tenant(f"sum by (namespace) (kube_pod_container_resource_limits"
                             f'{{{ns},resource="nvidia_com_gpu"}})', prefix),
    }


def fleet_dashboard(namespace_prefix: str, title: str) -> dict[str, Any]:
    q = queries(namespace_prefix)
    pct = [{"color": "green", "value": None}, {"color": "orange", "value": 80},
           {"color": "red", "value": 95}]
    rate_steps = [{"color": "red", "value": None}, {"color": "orange", "value": 0.9},
                  {"color": "green", "value": 1}]
    panels = [
        _panel(1, "Active tenants", [(q["active_tenants"], "active")], x=0, y=0, w=6, h=5,
               kind="stat", unit="none", decimals=0,
               description="Tenants with at least one available replica (kube-state-metrics)."),
        _panel(2, "Tenants deployed", [(q["tenants_deployed"], "deployed")], x=6, y=0, w=6, h=5,
               kind="stat", unit="none", decimals=0,
               description="Tenants with at least one Deployment, running or not."),
        _panel(3, "Deployment success rate", [(q["success_rate"], "success")], x=12, y=0, w=6,
               h=5, kind="stat", unit="percentunit", decimals=1, thresholds=rate_steps,
               description="Deployments whose available replicas reach the desired count, as a "
                           "share of all the fleet's Deployments."),
        _panel(4, "Deployments short of replicas", [(q["deployments_failing"], "failing")],
               x=18, y=0, w=6, h=5, kind="stat", unit="none", decimals=0,
               thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}]),
        _panel(5, "Deployment success rate per tenant",
               [(q["success_rate_by_tenant"], "{{tenant}}")], x=0, y=5, w=24, unit="percentunit",
               thresholds=rate_steps),
        _row(6, "Utilisation against limits", 13),
        _panel(7, "CPU per tenant (% of limits)", [(q["cpu_usage"], "{{tenant_id}}")],
               x=0, y=14, w=8, unit="percent", thresholds=pct, threshold_style="line",
               description="ecpctl's cpu_usage rule, averaged over the tenant's services."),
        _panel(8, "Memory per tenant (% of limits)", [(q["memory_usage"], "{{tenant_id}}")],
               x=8, y=14, w=8, unit="percent", thresholds=pct, threshold_style="line",
               description="ecpctl's memory_usage rule, averaged over the tenant's services."),
        _panel(9, "GPU per tenant (% utilisation)", [(q["gpu_usage"], "{{tenant_id}}")],
               x=16, y=14, w=8, unit="percent", thresholds=pct, threshold_style="line",
               description="ecpctl's gpu_usage rule (dcgm-exporter); tenants without a GPU "
                           "service have no line."),
        _row(10, "Usage", 22),
        _panel(11, "CPU per tenant (cores)", [(q["cpu_cores"], "{{tenant}}")], x=0, y=23, w=8,
               unit="short"),
        _panel(12, "Memory per tenant", [(q["memory_bytes"], "{{tenant}}")], x=8, y=23, w=8,
               unit="bytes"),
        _panel(13, "GPUs held per tenant", [(q["gpus_held"], "{{tenant}}")], x=16, y=23, w=8,
               unit="none", decimals=0),
    ]
    return {
        "uid": dashboard_uid(namespace_prefix), "title": title,
        "tags": [TAG, FLEET_TAG], "timezone": "browser", "schemaVersion": 39, "editable": True,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
        "description": f"Every tenant in namespaces {namespace_prefix}*.",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Data source", "hide": 0}]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }
