"""A tenant's monitoring: PrometheusRule and ServiceMonitor, dashboards (ConfigMaps for the
kube-prometheus-stack sidecar, or Grafana's API), and alert routing (AlertmanagerConfig, or the
operator's Alertmanager config file)."""

from __future__ import annotations

import os
from typing import Any

from ecpctl.dashboards import DEFAULT_WORKSPACE, folder_uid
from ecpctl.expand.dashboard_text import Shape, boards as dashboard_boards
from ecpctl.expand.context import TENANT_LABEL, Builder, ExpandContext
from ecpctl.expand.kubernetes import PROVIDER, add_object, b64, ktype, labels, meta
from ecpctl.expand.service_rules import RECORDED, known_metric, service_alerts_group, usage_group
from ecpctl.kernel import ConfigError, Diagnostic, Severity
from ecpctl.promql import PromQLError, check_condition, scope_expression
from ecpctl.slo import compress, slo_rule_groups

SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}
# Alertmanager receiver names in file mode: `<tenant>/<receiver>`. A '/' appears in neither a
# tenant id nor a receiver name, so two tenants can never produce the same name (with '-',
# tenant `a` + receiver `b-ops` and tenant `a-b` + receiver `ops` would collide). The
# prometheus-operator names AlertmanagerConfig receivers the same way (`namespace/name/receiver`).
RECEIVER_SEPARATOR = "/"
ALERTING_SECRET = "ecp-ai-alerting"
TENANT_KEY = "tenant_id"          # the label every tenant metric and alert carries


def receiver_name(tenant_id: str, receiver: str) -> str:
    return f"{tenant_id}{RECEIVER_SEPARATOR}{receiver}"


def _unknown_metrics(lt, recorded: set[str]) -> list[Diagnostic]:
    """A warning for each custom condition that reads a metric nothing is known to provide."""
    out = []
    for i, a in enumerate(lt.tenant.spec.monitoring.alerts):
        try:
            selectors = check_condition(a.condition).selectors
        except PromQLError:
            continue                    # reported as an error by _custom_rules
        for sel in selectors:
            name = sel.metric or next((v for lbl, op, v in sel.matchers
                                       if lbl == "__name__" and op == "="), None)
            if name and not known_metric(name, recorded):
                out.append(lt.diagnostic(
                    f"alert {a.name!r} reads {name}, which no rule ecpctl generates and no known "
                    f"exporter provides: it will never fire (generated: "
                    f"{', '.join(sorted(RECORDED))})",
                    "spec", "monitoring", "alerts", i, "condition", severity=Severity.WARNING))
    return out


def _custom_rules(lt, tid: str, ns: str, compression: int = 1) -> list[dict]:
    rules, diags = [], []
    for i, a in enumerate(lt.tenant.spec.monitoring.alerts):
        try:
            expr = scope_expression(a.condition, tid)
        except PromQLError as exc:
            diags.append(lt.diagnostic(f"invalid alert condition {a.condition!r}: {exc}",
                                       "spec", "monitoring", "alerts", i, "condition"))
            continue
        rule = {"alert": a.name, "expr": expr, "for": compress(a.for_, compression),
                "labels": {"severity": SEVERITY[a.severity], TENANT_KEY: tid, "namespace": ns},
                "annotations": {"summary": a.description or f"{a.name}: {a.condition}"}}
        if a.notify:
            rule["labels"]["notify"] = ",".join(a.notify)
        rules.append(rule)
    if diags:
        raise ConfigError(f"{len(diags)} invalid alert condition(s)", diagnostics=tuple(diags))
    return rules


FILE_KEYS = {"groupWait": "group_wait", "groupInterval": "group_interval",
             "repeatInterval": "repeat_interval"}


def expand_monitoring(b: Builder, ctx: ExpandContext, lt, sizing, k8s: dict[str, str]) -> None:
    t = lt.tenant
    tid = t.metadata.name
    ns = k8s["ns_name"]
    in_ns = (k8s["namespace"],)
    pmon = ctx.project.spec.monitoring
    base = labels(tid)
    rule_labels = dict(sorted({**base, **pmon.ruleLabels}.items()))
    # alerts carry the tenant's namespace: the prometheus-operator's AlertmanagerConfig routes
    # match on it (alertmanagerConfigMatcherStrategy OnNamespace); recorded SLO series have none
    squeeze = pmon.timeCompression
    services = [s.service for s in sizing.services]
    groups = slo_rule_groups(tid, t.spec.sla.availability, alert_labels={"namespace": ns},
                             compression=squeeze)
    groups.append(usage_group(tid, ns, services, squeeze))
    groups.append(service_alerts_group(tid, ns, services, t.spec.sla.responseTime, squeeze))
    custom = _custom_rules(lt, tid, ns, squeeze)
    if custom:
        groups.append({"name": f"ecp-ai-{tid}-custom", "rules": custom})
    recorded = set(RECORDED) | {r["record"] for g in groups for r in g["rules"] if "record" in r}
    b.diagnostics.extend(_unknown_metrics(lt, recorded))
    if pmon.rulesMode == "file":
        # no prometheus-operator: the rules go to a file Prometheus loads, and nothing would
        # read a ServiceMonitor (the file's Prometheus has its own scrape configuration)
        b.add("prometheus", "rules", tid, {"groups": groups})
    else:
        rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": meta("ecp-ai-slo", ns, rule_labels), "spec": {"groups": groups}}
        b.add(PROVIDER, ktype(rule), "ecp-ai-slo", rule, depends_on=in_ns)
        _service_monitor(b, tid, ns, in_ns, rule_labels)
    if t.spec.monitoring.dashboards:
        title = t.metadata.displayName or tid
        shape = Shape(workspace=ctx.workspace, services=tuple(s.service for s in sizing.services),
                      sla_ms=t.spec.sla.responseTime,
                      gpu_services=tuple(s.service for s in sizing.services if s.gpus_per_replica),
                      availability=t.spec.sla.availability)
        _dashboards(b, ctx, tid, title, ns, in_ns, shape)
    _alerting(b, ctx, lt, ns, in_ns)


def _service_monitor(b: Builder, tid: str, ns: str, in_ns, rule_labels) -> None:
    # tenant_id comes from the Service's label, never from the scraped metrics: with
    # honorLabels false a service cannot claim another tenant's id (Prometheus renames its own
    # label to exported_tenant_id).
    add_object(b, {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": meta("ecp-ai-services", ns, rule_labels),
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/part-of": "ecp-ai",
                                              TENANT_LABEL: tid}},
                 "endpoints": [{
                     "port": "http", "path": "/metrics", "interval": "30s", "honorLabels": False,
                     "relabelings": [{
                         "sourceLabels": ["__meta_kubernetes_service_label_ecp_ai_tenant"],
                         "targetLabel": TENANT_KEY, "action": "replace"}]}]}},
        depends_on=in_ns)


def folder_title(ctx: ExpandContext, title: str) -> str:
    """`ECP-AI / <title>`, and `ECP-AI / <title> [<workspace>]` outside the default workspace:
    Grafana refuses a second folder of the same title, which the same tenant in two workspaces
    would otherwise make."""
    g = ctx.project.spec.providers.grafana
    prefix = g.folderPrefix if g is not None else "ECP-AI"
    tail = "" if ctx.workspace == DEFAULT_WORKSPACE else f" [{ctx.workspace}]"
    return f"{prefix} / {title}{tail}"


def _dashboards(b: Builder, ctx, tid, title, ns, in_ns, shape: Shape) -> None:
    ftitle = folder_title(ctx, title)
    if ctx.project.spec.monitoring.dashboardsMode == "configmap":
        # the text alone is kept: made from the template of the tenant's shape
        for key, text in ctx.dashboard_texts.texts(tid, title, ns, shape).items():
            add_object(b, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": meta(f"ecp-ai-dashboard-{key}", ns,
                                 {**labels(tid), "grafana_dashboard": "1"},
                                 {"grafana_folder": ftitle}),
                "data": {f"{tid}-{key}.json": text}}, depends_on=in_ns)
        return
    fuid = folder_uid(tid, ctx.workspace)
    folder = b.add("grafana", "folder", fuid, {"uid": fuid, "title": ftitle})
    for board in dashboard_boards(tid, title, ns, shape).values():
        b.add("grafana", "dashboard", board["uid"], {
            "uid": board["uid"], "folder_uid": fuid, "dashboard": board},
            depends_on=(folder,))


def _slack_url(lt, i: int) -> tuple[str, Diagnostic | None]:
    r = lt.tenant.spec.monitoring.receivers[i]
    value = os.environ.get(r.slack.apiUrlEnv, "")
    if value:
        return value, None
    return "", lt.diagnostic(
        f"environment variable {r.slack.apiUrlEnv} is not set: slack receiver {r.name!r} has no "
        f"webhook URL", "spec", "monitoring", "receivers", i, "slack", "apiUrlEnv",
        severity=Severity.WARNING)


def _receiver_k8s(r, slack_key: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name}
    if r.webhook is not None:
        out["webhookConfigs"] = [{"url": str(r.webhook.url), "sendResolved": r.webhook.sendResolved}]
    elif r.email is not None:
        out["emailConfigs"] = [{"to": ", ".join(r.email.to), "sendResolved": True}]
    elif r.slack is not None:
        out["slackConfigs"] = [{"channel": r.slack.channel, "sendResolved": True,
                                "apiURL": {"name": ALERTING_SECRET, "key": slack_key}}]
    return out


def _receiver_file(lt, i: int) -> tuple[dict[str, Any], tuple[str, ...], Diagnostic | None]:
    tid = lt.tenant.metadata.name
    r = lt.tenant.spec.monitoring.receivers[i]
    out: dict[str, Any] = {"name": receiver_name(tid, r.name)}
    sensitive: tuple[str, ...] = ()
    warning = None
    if r.webhook is not None:
        out["webhook_configs"] = [{"url": str(r.webhook.url), "send_resolved": r.webhook.sendResolved}]
    elif r.email is not None:
        out["email_configs"] = [{"to": ", ".join(r.email.to), "send_resolved": True}]
    elif r.slack is not None:
        url, warning = _slack_url(lt, i)
        cfg: dict[str, Any] = {"channel": r.slack.channel, "send_resolved": True}
        if url:
            cfg["api_url"] = url      # else Alertmanager's global slack_api_url applies
        out["slack_configs"] = [cfg]
        sensitive = ("slack_configs",)
    return out, sensitive, warning


def _alerting(b: Builder, ctx: ExpandContext, lt, ns: str, in_ns) -> None:
    t = lt.tenant
    tid = t.metadata.name
    mon = t.spec.monitoring
    if not mon.receivers:
        return
    default = mon.receivers[0].name
    # an alert that names receivers goes to each of them; every other alert of the tenant (the
    # SLO burn-rate and service alerts among them) goes by severity: critical to
    # criticalReceiver, warning to warningReceiver, the rest to the first receiver
    notify = [(a.name, recv) for a in mon.alerts for recv in a.notify]
    by_severity = [(sev, recv) for sev, recv in (("critical", mon.criticalReceiver),
                                                 ("warning", mon.warningReceiver))
                   if recv and recv != default]
    # time compression shortens the route's timings as well, so that a notification and its
    # resolution arrive as much sooner as the alerts fire
    squeeze = ctx.project.spec.monitoring.timeCompression
    # only the timings the tenant sets: the others are inherited from the operator's route
    timing = {k: compress(v, squeeze) for k in ("groupWait", "groupInterval", "repeatInterval")
              if (v := getattr(mon.route, k)) is not None}
    if ctx.project.spec.monitoring.alertmanagerMode == "kubernetes":
        deps = list(in_ns)
        slack = [i for i, r in enumerate(mon.receivers) if r.slack is not None]
        if slack:
            data = {}
            for i in slack:
                r = mon.receivers[i]
                url, warning = _slack_url(lt, i)
                data[f"slack-{r.name}"] = b64(url)
                if warning:
                    b.diagnostics.append(warning)
            deps.append(add_object(b, {
                "apiVersion": "v1", "kind": "Secret",
                "metadata": meta(ALERTING_SECRET, ns, labels(tid)), "type": "Opaque",
                "data": dict(sorted(data.items()))}, depends_on=in_ns, sensitive=("data",)))
        amcfg: dict[str, Any] = {
            "apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig",
            "metadata": meta("ecp-ai-alerts", ns, labels(tid)),
            "spec": {
                "route": {"receiver": default, "groupBy": ["alertname", "service"],
                          **timing,
                          "matchers": [{"name": TENANT_KEY, "value": tid, "matchType": "="}],
                          "routes": [{"receiver": recv, "continue": True,
                                      "matchers": [{"name": "alertname", "value": alert,
                                                    "matchType": "="}]}
                                     for alert, recv in notify]
                          + [{"receiver": recv,
                              "matchers": [{"name": "severity", "value": sev, "matchType": "="},
                                           {"name": "notify", "value": "", "matchType": "="}]}
                             for sev, recv in by_severity]},
                "receivers": [_receiver_k8s(r, f"slack-{r.name}" if r.slack else None)
                              for r in mon.receivers],
            }}
        b.add(PROVIDER, ktype(amcfg), amcfg["metadata"]["name"], amcfg, depends_on=tuple(deps))
        return
    recv_addrs = []
    for i, r in enumerate(mon.receivers):
        attrs, sens, warning = _receiver_file(lt, i)
        if warning:
            b.diagnostics.append(warning)
        recv_addrs.append(b.add("alertmanager", "receiver", r.name, attrs, sensitive=sens))
    b.add("alertmanager", "route", tid, {
        "receiver": receiver_name(tid, default), "matchers": [f'{TENANT_KEY}="{tid}"'],
        "group_by": ["alertname", "service"], "continue": False,
        **{FILE_KEYS[k]: v for k, v in timing.items()},
        "routes": [{"receiver": receiver_name(tid, recv), "matchers": [f'alertname="{alert}"'],
                    "continue": True} for alert, recv in notify]
        + [{"receiver": receiver_name(tid, recv), "matchers": [f'severity="{sev}"', 'notify=""']}
           for sev, recv in by_severity]},
        depends_on=tuple(recv_addrs))

