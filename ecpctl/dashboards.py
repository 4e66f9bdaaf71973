"""Grafana dashboards for a tenant, as plain JSON: an overview of its services and its SLO."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def _panel(pid: int, title: str, exprs: list[tuple[str, str]], *, x: int, y: int, unit: str,
           kind: str = "timeseries", w: int = 12, h: int = 8, thresholds=None) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "id": pid, "type": kind, "title": title,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": e, "legendFormat": legend}
                    for i, (e, legend) in enumerate(exprs)],
    }
    if thresholds:
        panel["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": thresholds}
    return panel


def _base(uid: str, title: str, tenant_id: str, panels: list[dict]) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "tags": ["ecp-ai", f"tenant:{tenant_id}"],
        "timezone": "browser", "schemaVersion": 39, "editable": True,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Data source"}]},
        "panels": panels,
    }


def overview_dashboard(tenant_id: str, title: str, services: list[str], sla_ms: int) -> dict:
    ns = f'namespace="ecp-ai-{tenant_id}"'
    sel = f'tenant_id="{tenant_id}"'
    panels = [
        _panel(1, "CPU by service (cores)", [
            (f"sum by (container) (rate(container_cpu_usage_seconds_total{{{ns},container!=\"\"}}[5m]))",
             "{{container}}")], x=0, y=0, unit="short"),
        _panel(2, "Memory by service", [
            (f"sum by (container) (container_memory_working_set_bytes{{{ns},container!=\"\"}})",
             "{{container}}")], x=12, y=0, unit="bytes"),
        _panel(3, "GPU utilisation by service", [
            (f"avg by (container) (DCGM_FI_DEV_GPU_UTIL{{{ns}}})", "{{container}}")],
            x=0, y=8, unit="percent"),
        _panel(4, "Requests per second", [
            (f"sum by (service) (rate(ecp_requests_total{{{sel}}}[5m]))", "{{service}}")],
            x=12, y=8, unit="reqps"),
        _panel(5, "Latency p95 against the SLA", [
            (f"histogram_quantile(0.95, sum by (le, service) "
             f"(rate(ecp_request_duration_seconds_bucket{{{sel}}}[5m])))", "{{service}} p95"),
            (f"vector({Decimal(sla_ms) / 1000})", "SLA")],
            x=0, y=16, w=24, unit="s",
            thresholds=[{"color": "green", "value": None},
                        {"color": "red", "value": float(Decimal(sla_ms) / 1000)}]),
    ]
    d = _base(f"ecp-{tenant_id}-overview"[:40], f"{title} — overview", tenant_id, panels)
    d["description"] = "Services: " + ", ".join(services)
    return d


def slo_dashboard(tenant_id: str, title: str, availability: Decimal) -> dict:
    ratio = f'tenant:ecp_request_errors:ratio_rate{{w}}{{{{tenant_id="{tenant_id}"}}}}'
    budget = (Decimal(100) - availability) / Decimal(100)
    panels = [
        _panel(1, "Availability (30d)", [(f"1 - {ratio.format(w='30d')}", "availability")],
               x=0, y=0, w=8, kind="stat", unit="percentunit",
               thresholds=[{"color": "red", "value": None},
                           {"color": "green", "value": float(availability / 100)}]),
        _panel(2, "Error budget remaining (30d)",
               [(f"1 - ({ratio.format(w='30d')} / {budget})", "remaining")],
               x=8, y=0, w=8, kind="stat", unit="percentunit"),
        _panel(3, "Burn rate", [(f"{ratio.format(w=w)} / {budget}", w)
                                for w in ("5m", "1h", "6h", "1d")], x=16, y=0, w=8, unit="short"),
    ]
    return _base(f"ecp-{tenant_id}-slo"[:40], f"{title} — SLO {availability}%", tenant_id, panels)
