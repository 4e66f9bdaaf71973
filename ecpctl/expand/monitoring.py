"""A tenant's monitoring: PrometheusRule and ServiceMonitor, dashboards (ConfigMaps for the
kube-prometheus-stack sidecar, or Grafana's API), and alert routing (AlertmanagerConfig, or the
operator's Alertmanager config file)."""

from __future__ import annotations

import json
import os
from typing import Any

from ecpctl.dashboards import overview_dashboard, slo_dashboard
from ecpctl.diagnostics import ConfigError, Diagnostic
from ecpctl.expand.context import Builder, ExpandContext
from ecpctl.expand.kubernetes import add_object, labels, meta
from ecpctl.promql import PromQLError, scope_expression
from ecpctl.slo import slo_rule_groups

SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}


def _custom_rules(lt, tid: str) -> list[dict]:
    rules, diags = [], []
    for i, a in enumerate(lt.tenant.spec.monitoring.alerts):
        try:
            expr = scope_expression(a.condition, tid)
        except PromQLError as exc:
            line, col = lt.position("spec", "monitoring", "alerts", i, "condition") or (None, None)
            diags.append(Diagnostic.error(f"invalid alert condition: {exc}", file=lt.file, line=line,
                                          column=col, field=f"spec.monitoring.alerts[{i}].condition"))
            continue
        rule = {"alert": a.name, "expr": expr, "for": a.for_,
                "labels": {"severity": SEVERITY[a.severity], "tenant_id": tid},
                "annotations": {"summary": a.description or f"{a.name}: {a.condition}"}}
        if a.notify:
            rule["labels"]["notify"] = ",".join(a.notify)
        rules.append(rule)
    if diags:
        raise ConfigError(f"{len(diags)} invalid alert condition(s)", diagnostics=tuple(diags))
    return rules


def expand_monitoring(b: Builder, ctx: ExpandContext, lt, sizing, k8s: dict[str, str]) -> None:
    t = lt.tenant
    tid = t.metadata.name
    ns = k8s["ns_name"]
    in_ns = (k8s["namespace"],)
    pmon = ctx.project.spec.monitoring
    base = labels(tid)
    rule_labels = dict(sorted({**base, **pmon.ruleLabels}.items()))
    groups = slo_rule_groups(tid, t.spec.sla.availability)
    custom = _custom_rules(lt, tid)
    if custom:
        groups.append({"name": f"ecp-ai-{tid}-custom", "rules": custom})
    add_object(b, {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": meta("ecp-ai-slo", ns, rule_labels), "spec": {"groups": groups}},
        depends_on=in_ns)
    add_object(b, {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": meta("ecp-ai-services", ns, rule_labels),
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/part-of": "ecp-ai",
                                              "ecp.ai/tenant": tid}},
                 "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}]}},
        depends_on=in_ns)

    if t.spec.monitoring.dashboards:
        title = t.metadata.displayName or tid
        boards = {
            "overview": overview_dashboard(tid, title, [s.service for s in sizing.services],
                                           t.spec.sla.responseTime),
            "slo": slo_dashboard(tid, title, t.spec.sla.availability),
        }
        _dashboards(b, ctx, tid, title, ns, in_ns, boards)
    _alerting(b, ctx, lt, ns, in_ns)


def _grafana_settings(ctx: ExpandContext):
    return ctx.project.spec.providers.grafana


def _dashboards(b: Builder, ctx, tid, title, ns, in_ns, boards: dict[str, dict]) -> None:
    g = _grafana_settings(ctx)
    prefix = g.folderPrefix if g is not None else "ECP-AI"
    folder_title = f"{prefix} / {title}"
    if ctx.project.spec.monitoring.dashboardsMode == "configmap":
        for key, board in boards.items():
            add_object(b, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": meta(f"ecp-ai-dashboard-{key}", ns,
                                 {**labels(tid), "grafana_dashboard": "1"},
                                 {"grafana_folder": folder_title}),
                "data": {f"{tid}-{key}.json": json.dumps(board, sort_keys=True, ensure_ascii=False,
                                                         indent=1)}}, depends_on=in_ns)
        return
    folder_uid = f"ecp-ai-{tid}"[:40]
    folder = b.add("grafana", "folder", folder_uid, {"uid": folder_uid, "title": folder_title})
    for key, board in boards.items():
        b.add("grafana", "dashboard", board["uid"], {
            "uid": board["uid"], "folder_uid": folder_uid, "dashboard": board},
            depends_on=(folder,))


def _receiver_k8s(r) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name}
    if r.webhook is not None:
        out["webhookConfigs"] = [{"url": str(r.webhook.url), "sendResolved": r.webhook.sendResolved}]
    elif r.email is not None:
        out["emailConfigs"] = [{"to": ", ".join(r.email.to), "sendResolved": True}]
    elif r.slack is not None:
        out["slackConfigs"] = [{"channel": r.slack.channel, "sendResolved": True,
                                "apiURL": {"name": "ecp-ai-alerting", "key": "slack-url"}}]
    return out


def _receiver_file(tid: str, r) -> tuple[dict[str, Any], tuple[str, ...]]:
    out: dict[str, Any] = {"name": f"{tid}-{r.name}"}
    sensitive: tuple[str, ...] = ()
    if r.webhook is not None:
        out["webhook_configs"] = [{"url": str(r.webhook.url), "send_resolved": r.webhook.sendResolved}]
    elif r.email is not None:
        out["email_configs"] = [{"to": ", ".join(r.email.to), "send_resolved": True}]
    elif r.slack is not None:
        out["slack_configs"] = [{"channel": r.slack.channel, "send_resolved": True,
                                 "api_url": os.environ.get(r.slack.apiUrlEnv, "")}]
        sensitive = ("slack_configs",)
    return out, sensitive


def _alerting(b: Builder, ctx: ExpandContext, lt, ns: str, in_ns) -> None:
    t = lt.tenant
    tid = t.metadata.name
    mon = t.spec.monitoring
    if not mon.receivers:
        return
    default = mon.receivers[0].name
    routes = [{"matchers": [f'alertname="{a.name}"'], "receivers": list(a.notify)}
              for a in mon.alerts if a.notify]
    if ctx.project.spec.monitoring.alertmanagerMode == "kubernetes":
        sub = []
        for r in routes:
            for recv in r["receivers"]:
                sub.append({"receiver": recv, "continue": True,
                            "matchers": [{"name": "alertname", "value": r["matchers"][0].split('"')[1],
                                          "matchType": "="}]})
        add_object(b, {
            "apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig",
            "metadata": meta("ecp-ai-alerts", ns, labels(tid)),
            "spec": {
                "route": {"receiver": default, "groupBy": ["alertname", "service"],
                          "matchers": [{"name": "tenant_id", "value": tid, "matchType": "="}],
                          "routes": sub},
                "receivers": [_receiver_k8s(r) for r in mon.receivers],
            }}, depends_on=in_ns)
        return
    recv_addrs = []
    for r in mon.receivers:
        attrs, sens = _receiver_file(tid, r)
        recv_addrs.append(b.add("alertmanager", "receiver", attrs["name"], attrs, sensitive=sens))
    child_routes = []
    for r in routes:
        for recv in r["receivers"]:
            child_routes.append({"receiver": f"{tid}-{recv}", "matchers": r["matchers"],
                                 "continue": True})
    b.add("alertmanager", "route", tid, {
        "receiver": f"{tid}-{default}", "matchers": [f'tenant_id="{tid}"'],
        "group_by": ["alertname", "service"], "continue": False, "routes": child_routes},
        depends_on=tuple(recv_addrs))
