"""Grafana dashboards for a tenant, as plain JSON: an overview of its services and its SLO.

Queries use the labels the tenant's metrics carry: `namespace` for the kubelet's container metrics
(cAdvisor), kube-state-metrics and dcgm-exporter's GPU metrics; `tenant_id` (set by the tenant's
ServiceMonitor) and `service` for the services' own request metrics.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

from ecpctl.kernel.ownership import DASHBOARD_TAG as TAG
from ecpctl.slo import RATIO, SLO_PERIOD, WINDOWS, error_budget

UID_MAX = 40          # Grafana's limit on a uid
# The workspace whose uids carry no workspace: the uids of ecpctl before workspaces had their own
# (state.store.DEFAULT_WORKSPACE), so installs in it keep their dashboards and links
DEFAULT_WORKSPACE = "default"
_UID_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def _uid(text: str) -> str:
    """`text` if it fits Grafana's 40 characters, else a prefix and a hash (never a bare cut, which
    could give two long tenant ids the same uid)."""
    if len(text) <= UID_MAX:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[:UID_MAX - 9]}-{digest}"


def workspace_suffix(workspace: str) -> str:
    """What a tenant's uids add for `workspace`, so that the same tenant in two workspaces against
    one Grafana has two folders and two sets of dashboards: nothing for the default workspace,
    `_ws-<name>` for the others (a workspace name with a '.', which a uid cannot hold, as
    `_wh-<8 hex digits of its hash>`). No tenant id holds a '_' (it is a DNS label), so a suffix
    can never be read as part of another tenant's id, and the fleet uids (`<prefix>_fleet...`)
    never begin with `_ws-` or `_wh-`."""
    if workspace == DEFAULT_WORKSPACE:
        return ""
    if _UID_SAFE.fullmatch(workspace):
        return f"_ws-{workspace}"
    return f"_wh-{hashlib.sha256(workspace.encode()).hexdigest()[:8]}"


def folder_uid(tenant_id: str, workspace: str = DEFAULT_WORKSPACE) -> str:
    return _uid(f"ecp-ai-{tenant_id}{workspace_suffix(workspace)}")


def dashboard_uid(tenant_id: str, key: str, workspace: str = DEFAULT_WORKSPACE) -> str:
    return _uid(f"ecp-{tenant_id}-{key}{workspace_suffix(workspace)}")


def _num(d: Decimal) -> str:
    return format(Decimal(d).normalize(), "f")


def _panel(pid: int, title: str, exprs: list[tuple[str, str]], *, x: int, y: int, unit: str,
           kind: str = "timeseries", w: int = 12, h: int = 8, thresholds=None,
           description: str | None = None, decimals: int | None = None,
           threshold_style: str | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if decimals is not None:
        defaults["decimals"] = decimals
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
    if threshold_style:
        defaults["custom"] = {"thresholdsStyle": {"mode": threshold_style}}
    panel: dict[str, Any] = {
        "id": pid, "type": kind, "title": title,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": e, "legendFormat": legend,
                     "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                    for i, (e, legend) in enumerate(exprs)],
    }
    if description:
        panel["description"] = description
    return panel


def _row(pid: int, title: str, y: int) -> dict[str, Any]:
    return {"id": pid, "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


def _base(uid: str, title: str, tenant_id: str, panels: list[dict]) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "tags": [TAG, f"tenant:{tenant_id}"],
        "timezone": "browser", "schemaVersion": 39, "editable": True,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Data source", "hide": 0}]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def overview_dashboard(tenant_id: str, title: str, services: list[str], sla_ms: int,
                       gpu_services: list[str] | None = None, *,
                       workspace: str = DEFAULT_WORKSPACE, namespace: str | None = None) -> dict:
    """CPU, memory and GPU per service against their limits; request rate and errors; latency
    percentiles against the SLA's response time. `namespace`: the tenant's (a workspace's own
    namespace prefix gives another), `ecp-ai-<tenant>` when not given."""
    ns = f'namespace="{namespace or f"ecp-ai-{tenant_id}"}"'
    sel = f'tenant_id="{tenant_id}"'
    cont = f'{ns},container!="",container!="POD"'
    sla_s = Decimal(sla_ms) / 1000
    gpu_note = ("GPU services: " + ", ".join(gpu_services)) if gpu_services else \
        "This tenant runs no GPU service."
    panels = [
        _row(1, "Resources per service", 0),
        _panel(2, "CPU per service (cores)", [
            (f"sum by (container) (rate(container_cpu_usage_seconds_total{{{cont}}}[$__rate_interval]))",
             "{{container}}"),
            (f'sum by (container) (kube_pod_container_resource_limits{{{ns},resource="cpu"}})',
             "{{container}} limit")], x=0, y=1, unit="short",
            description="Usage from the kubelet (cAdvisor); limits from kube-state-metrics."),
        _panel(3, "Memory per service", [
            (f"sum by (container) (container_memory_working_set_bytes{{{cont}}})", "{{container}}"),
            (f'sum by (container) (kube_pod_container_resource_limits{{{ns},resource="memory"}})',
             "{{container}} limit")], x=12, y=1, unit="bytes"),
        _panel(4, "GPU utilisation per service", [
            (f"avg by (container) (DCGM_FI_DEV_GPU_UTIL{{{ns}}})", "{{container}}")],
            x=0, y=9, unit="percent", description=f"From dcgm-exporter. {gpu_note}"),
        _panel(5, "GPU memory per service", [
            (f"sum by (container) (DCGM_FI_DEV_FB_USED{{{ns}}}) * 1048576", "{{container}}")],
            x=12, y=9, unit="bytes"),
        _row(6, "Requests", 17),
        _panel(7, "Requests per second per service", [
            (f"sum by (service) (rate(ecp_requests_total{{{sel}}}[$__rate_interval]))",
             "{{service}}")], x=0, y=18, unit="reqps"),
        _panel(8, "Errors (5xx) per service", [
            (f'sum by (service) (rate(ecp_requests_total{{{sel},code=~"5.."}}[$__rate_interval]))'
             f" / sum by (service) (rate(ecp_requests_total{{{sel}}}[$__rate_interval]))",
             "{{service}}")], x=12, y=18, unit="percentunit"),
        _panel(9, f"Latency against the SLA ({sla_ms}ms)", [
            *[(f"histogram_quantile({q}, sum by (le, service) "
               f"(rate(ecp_request_duration_seconds_bucket{{{sel}}}[$__rate_interval])))",
               f"{{{{service}}}} p{int(Decimal(q) * 100)}") for q in ("0.95", "0.99")],
            (f"vector({_num(sla_s)})", f"SLA {sla_ms}ms")],
            x=0, y=26, w=24, unit="s", threshold_style="line",
            thresholds=[{"color": "green", "value": None},
                        {"color": "red", "value": float(sla_s)}],
            description="p95 and p99 per service; the red line is the SLA's response time."),
    ]
    d = _base(dashboard_uid(tenant_id, "overview", workspace), f"{title} — overview", tenant_id,
              panels)
    d["description"] = "Services: " + ", ".join(services)
    return d


def slo_dashboard(tenant_id: str, title: str, availability: Decimal, *,
                  workspace: str = DEFAULT_WORKSPACE) -> dict:
    """Availability over the SLO period, error budget remaining, burn rate per alert window."""
    def ratio(w: str) -> str:
        return f'{RATIO.format(w=w)}{{tenant_id="{tenant_id}"}}'

    budget = _num(error_budget(availability))
    target = Decimal(availability) / 100
    windows = sorted({w for bw in WINDOWS for w in (bw.long, bw.short)},
                     key=lambda w: int(w[:-1]) * {"m": 60, "h": 3600, "d": 86400}[w[-1]])
    factors = sorted({bw.factor for bw in WINDOWS})
    panels = [
        _panel(1, f"Availability ({SLO_PERIOD})", [(f"1 - {ratio(SLO_PERIOD)}", "availability")],
               x=0, y=0, w=8, kind="stat", unit="percentunit", decimals=3,
               thresholds=[{"color": "red", "value": None},
                           {"color": "green", "value": float(target)}],
               description=f"Target {_num(availability)}%."),
        _panel(2, f"Error budget remaining ({SLO_PERIOD})",
               [(f"1 - ({ratio(SLO_PERIOD)} / {budget})", "remaining")],
               x=8, y=0, w=8, kind="stat", unit="percentunit", decimals=1,
               thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0},
                           {"color": "green", "value": 0.25}]),
        _panel(3, "Error ratio against the budget", [
            (ratio("1h"), "error ratio (1h)"), (f"vector({budget})", "budget")],
            x=16, y=0, w=8, unit="percentunit"),
        _panel(4, "Burn rate", [(f"{ratio(w)} / {budget}", w) for w in windows],
               x=0, y=8, w=24, unit="short", threshold_style="line",
               thresholds=[{"color": "green", "value": None},
                           *[{"color": "red" if f > 5 else "orange", "value": float(f)}
                             for f in factors]],
               description="1 spends the budget exactly over the SLO period; the lines are the "
                           "alert thresholds (" + ", ".join(f"{_num(f)}x" for f in reversed(factors)) + ")."),
    ]
    return _base(dashboard_uid(tenant_id, "slo", workspace), f"{title} — SLO {_num(availability)}%",
                 tenant_id, panels)
