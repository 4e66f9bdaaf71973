"""Expansion of a tenant's monitoring (ecpctl/expand/monitoring.py): rules, dashboards, routing."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from ecpctl.kernel import ConfigError
from ecpctl.engine import desired_state
from ecpctl.promql import parse

ROOT = Path(__file__).resolve().parents[2]

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata: {{name: mon}}
spec:
  providers:
    grafana: {{url: "http://127.0.0.1:3000", folderPrefix: Tenants}}
    alertmanager: {{configFile: /tmp/am.yml, url: "http://127.0.0.1:9093"}}
  monitoring:
    ruleLabels: {{release: prom, team: platform}}
    dashboardsMode: {dashboards}
    alertmanagerMode: {alerting}
"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {name}
  displayName: Acme 콜센터
spec:
  services: {{callbot: 10, chatbot: 20}}
  sla: {{availability: "99.5%", responseTime: 150ms}}
  database: {{enabled: false}}
  monitoring:
    receivers:
      - name: ops-webhook
        webhook: {{url: "https://hooks.example.com/acme"}}
      - name: ops-email
        email: {{to: ["ops@example.com"]}}
      - name: noc
        slack: {{channel: "#noc", apiUrlEnv: ACME_SLACK_URL}}
    alerts:
      - name: high_cpu_usage
        condition: {condition}
        for: 5m
        notify: [ops-webhook, ops-email]
      - name: gpu_hot
        condition: gpu_usage > 90
        severity: critical
"""


def write(tmp_path: Path, *, dashboards="http", alerting="file", name="acme",
          condition="cpu_usage > 80", extra: dict[str, str] | None = None) -> Path:
    (tmp_path / "project.yaml").write_text(PROJECT.format(dashboards=dashboards, alerting=alerting))
    (tmp_path / f"{name}.yaml").write_text(TENANT.format(name=name, condition=condition))
    for fname, text in (extra or {}).items():
        (tmp_path / fname).write_text(textwrap.dedent(text))
    return tmp_path


def by_address(path: Path) -> dict:
    return {r.address: r for r in desired_state(path).resources}


def test_rule_labels_from_the_project(tmp_path):
    res = by_address(write(tmp_path))
    for kind in ("PrometheusRule.ecp-ai-slo", "ServiceMonitor.ecp-ai-services"):
        md = res[f"tenant.acme.kubernetes.monitoring.coreos.com/v1.{kind}"].attributes["metadata"]
        assert md["labels"]["release"] == "prom" and md["labels"]["team"] == "platform"
        assert md["labels"]["ecp.ai/tenant"] == "acme"
        assert md["namespace"] == "ecp-ai-acme"


def test_default_rule_labels_select_kube_prometheus_stack(tmp_path):
    (tmp_path / "acme.yaml").write_text(TENANT.format(name="acme", condition="x > 1"))
    res = by_address(tmp_path)
    md = res["tenant.acme.kubernetes.monitoring.coreos.com/v1.PrometheusRule.ecp-ai-slo"] \
        .attributes["metadata"]
    assert md["labels"]["release"] == "kube-prometheus-stack"


def test_prometheus_rule_groups(tmp_path):
    rule = by_address(write(tmp_path))[
        "tenant.acme.kubernetes.monitoring.coreos.com/v1.PrometheusRule.ecp-ai-slo"]
    groups = {g["name"]: g["rules"] for g in rule.attributes["spec"]["groups"]}
    assert list(groups) == ["ecp-ai-acme-slo-recording", "ecp-ai-acme-slo-alerts",
                            "ecp-ai-acme-usage", "ecp-ai-acme-services", "ecp-ai-acme-custom"]
    cpu, gpu = groups["ecp-ai-acme-custom"]
    assert cpu == {"alert": "high_cpu_usage", "expr": 'cpu_usage{tenant_id="acme"} > 80',
                   "for": "5m", "labels": {"severity": "warning", "tenant_id": "acme",
                                           "namespace": "ecp-ai-acme",
                                           "notify": "ops-webhook,ops-email"},
                   "annotations": {"summary": "high_cpu_usage: cpu_usage > 80"}}
    assert gpu["expr"] == 'gpu_usage{tenant_id="acme"} > 90'
    assert gpu["labels"]["severity"] == "critical" and "notify" not in gpu["labels"]
    for alert in groups["ecp-ai-acme-slo-alerts"]:
        assert alert["labels"]["namespace"] == "ecp-ai-acme"


def test_service_monitor_takes_tenant_id_from_the_service(tmp_path):
    sm = by_address(write(tmp_path))[
        "tenant.acme.kubernetes.monitoring.coreos.com/v1.ServiceMonitor.ecp-ai-services"]
    (ep,) = sm.attributes["spec"]["endpoints"]
    assert ep["honorLabels"] is False
    assert ep["relabelings"] == [{"sourceLabels": ["__meta_kubernetes_service_label_ecp_ai_tenant"],
                                  "targetLabel": "tenant_id", "action": "replace"}]


@pytest.mark.parametrize("condition, message", [
    ("cpu_usage >", "unexpected end of input"),
    ("'(cpu_usage > 80'", "unclosed left parenthesis"),
    ("rate(cpu_usage) > 1", "expected type range vector"),
    ("cpu_usage ! 80", "unexpected character"),
    ("'cpu_usage{tenant_id=\"other\"} > 1'", "must not select tenant_id"),
])
def test_bad_condition_is_a_config_error_at_its_line(tmp_path, condition, message):
    write(tmp_path, condition=condition)
    with pytest.raises(ConfigError) as info:
        desired_state(tmp_path)
    (d,) = info.value.diagnostics
    assert d.file.endswith("acme.yaml")
    lines = (tmp_path / "acme.yaml").read_text().splitlines()
    assert d.line is not None and "condition:" in lines[d.line - 1]
    assert d.column == lines[d.line - 1].index("condition:") + len("condition: ") + 1
    assert d.field == "spec.monitoring.alerts[0].condition"
    assert message in d.summary
    assert "acme.yaml:" in d.one_line() and "invalid alert condition" in d.one_line()


def test_errors_of_several_tenants_are_all_reported(tmp_path):
    write(tmp_path, condition="cpu_usage >")
    (tmp_path / "globex.yaml").write_text(TENANT.format(name="globex", condition="(x"))
    with pytest.raises(ConfigError) as info:
        desired_state(tmp_path)
    assert sorted(Path(d.file).name for d in info.value.diagnostics) == ["acme.yaml", "globex.yaml"]


# ------------------------------------------------------------------ dashboards


def test_configmap_mode(tmp_path):
    res = by_address(write(tmp_path, dashboards="configmap"))
    assert not [a for a in res if ".grafana." in a]
    for key in ("overview", "slo"):
        cm = res[f"tenant.acme.kubernetes.v1.ConfigMap.ecp-ai-dashboard-{key}"]
        md = cm.attributes["metadata"]
        assert md["labels"]["grafana_dashboard"] == "1"
        assert md["annotations"] == {"grafana_folder": "Tenants / Acme 콜센터"}
        assert md["namespace"] == "ecp-ai-acme"
        assert cm.depends_on == ("tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme",)
        (fname, text), = cm.attributes["data"].items()
        assert fname == f"acme-{key}.json"
        board = json.loads(text)
        assert board["uid"] == f"ecp-acme-{key}" and "ecp-ai" in board["tags"]
        assert len(text.encode()) < 1024 * 1024      # a ConfigMap holds at most 1 MiB


def test_http_mode(tmp_path):
    res = by_address(write(tmp_path, dashboards="http"))
    assert not [a for a in res if "ConfigMap.ecp-ai-dashboard" in a]
    folder = res["tenant.acme.grafana.folder.ecp-ai-acme"]
    assert folder.attributes == {"uid": "ecp-ai-acme", "title": "Tenants / Acme 콜센터"}
    for key in ("overview", "slo"):
        d = res[f"tenant.acme.grafana.dashboard.ecp-acme-{key}"]
        assert d.attributes["uid"] == f"ecp-acme-{key}"
        assert d.attributes["folder_uid"] == "ecp-ai-acme"
        assert d.attributes["dashboard"]["uid"] == f"ecp-acme-{key}"
        assert d.depends_on == (folder.address,)


def test_dashboard_panels(tmp_path):
    res = by_address(write(tmp_path))
    over = res["tenant.acme.grafana.dashboard.ecp-acme-overview"].attributes["dashboard"]
    titles = [p["title"] for p in over["panels"]]
    for want in ("CPU per service (cores)", "Memory per service", "GPU utilisation per service",
                 "Requests per second per service", "Latency against the SLA (150ms)"):
        assert want in titles
    latency = next(p for p in over["panels"] if p["title"].startswith("Latency"))
    assert latency["targets"][-1]["expr"] == "vector(0.15)"
    assert latency["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == 0.15
    slo = res["tenant.acme.grafana.dashboard.ecp-acme-slo"].attributes["dashboard"]
    assert [p["title"] for p in slo["panels"]] == [
        "Availability (30d)", "Error budget remaining (30d)", "Error ratio against the budget",
        "Burn rate"]
    assert slo["title"] == "Acme 콜센터 — SLO 99.5%"
    exprs = [t["expr"] for p in slo["panels"] for t in p["targets"]]
    assert '1 - (tenant:ecp_request_errors:ratio_rate30d{tenant_id="acme"} / 0.005)' in exprs
    ids = [p["id"] for d in (over, slo) for p in d["panels"]]
    assert len(set(ids)) >= len(over["panels"])


def test_every_dashboard_query_parses(tmp_path):
    res = by_address(write(tmp_path))
    n = 0
    for r in res.values():
        if r.type == "dashboard":
            for p in r.attributes["dashboard"]["panels"]:
                for t in p.get("targets", []):
                    parse(t["expr"].replace("$__rate_interval", "5m"))
                    n += 1
    assert n > 10


def test_long_tenant_ids_get_distinct_uids(tmp_path):
    a, b = "x" * 50 + "-alpha", "x" * 50 + "-bravo"
    write(tmp_path, name=a)
    (tmp_path / "b.yaml").write_text(TENANT.format(name=b, condition="x > 1"))
    uids = [r.attributes["uid"] for r in desired_state(tmp_path).resources
            if r.provider == "grafana"]
    assert len(uids) == 6 and len(set(uids)) == 6
    assert all(len(u) <= 40 and re.fullmatch(r"[A-Za-z0-9_-]+", u) for u in uids)


def test_no_dashboards_when_disabled(tmp_path):
    write(tmp_path)
    text = (tmp_path / "acme.yaml").read_text().replace("  monitoring:\n",
                                                      "  monitoring:\n    dashboards: false\n")
    (tmp_path / "acme.yaml").write_text(text)
    assert not [a for a in by_address(tmp_path) if ".grafana." in a or "dashboard" in a]


# ------------------------------------------------------------------ alerting


def test_file_mode_receivers_and_route(tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_SLACK_URL", "https://hooks.slack.example/T0/B0/secret")
    res = by_address(write(tmp_path, alerting="file"))
    assert not [a for a in res if "AlertmanagerConfig" in a]
    hook = res["tenant.acme.alertmanager.receiver.ops-webhook"]
    assert hook.attributes == {"name": "acme/ops-webhook", "webhook_configs": [
        {"url": "https://hooks.example.com/acme", "send_resolved": True}]}
    mail = res["tenant.acme.alertmanager.receiver.ops-email"]
    assert mail.attributes["email_configs"] == [{"to": "ops@example.com", "send_resolved": True}]
    slack = res["tenant.acme.alertmanager.receiver.noc"]
    assert slack.attributes["slack_configs"][0]["api_url"].endswith("/secret")
    assert slack.sensitive == ("slack_configs",)
    route = res["tenant.acme.alertmanager.route.acme"]
    assert route.attributes == {
        "receiver": "acme/ops-webhook", "matchers": ['tenant_id="acme"'],
        "group_by": ["alertname", "service"], "continue": False,
        "routes": [{"receiver": "acme/ops-webhook", "matchers": ['alertname="high_cpu_usage"'],
                    "continue": True},
                   {"receiver": "acme/ops-email", "matchers": ['alertname="high_cpu_usage"'],
                    "continue": True}]}
    assert set(route.depends_on) == {hook.address, mail.address, slack.address}


def test_route_timings_are_the_tenants_own_or_inherited(tmp_path):
    """Unset timings are left to the operator's parent route; the ones a tenant sets are written,
    in both alerting modes."""
    write(tmp_path)
    spec = tmp_path / "acme.yaml"
    spec.write_text(spec.read_text().replace(
        "  monitoring:\n", "  monitoring:\n    route: {groupWait: 10s, repeatInterval: 1h}\n"))
    route = by_address(tmp_path)["tenant.acme.alertmanager.route.acme"].attributes
    assert route["group_wait"] == "10s" and route["repeat_interval"] == "1h"
    assert "group_interval" not in route
    write(tmp_path, alerting="kubernetes")
    spec.write_text(spec.read_text().replace(
        "  monitoring:\n", "  monitoring:\n    route: {groupInterval: 2m}\n"))
    amcfg = next(r for a, r in by_address(tmp_path).items() if "AlertmanagerConfig" in a)
    timings = {k: v for k, v in amcfg.attributes["spec"]["route"].items()
               if k in ("groupWait", "groupInterval", "repeatInterval")}
    assert timings == {"groupInterval": "2m"}


def test_receiver_names_cannot_collide_across_tenants(tmp_path):
    """Tenant `a` with receiver `b-ops` and tenant `a-b` with receiver `ops`."""
    write(tmp_path, name="a")
    text = TENANT.format(name="a-b", condition="x > 1").replace("ops-webhook", "ops") \
        .replace("notify: [ops, ops-email]", "notify: [ops]")
    (tmp_path / "a-b.yaml").write_text(text)
    (tmp_path / "a.yaml").write_text((tmp_path / "a.yaml").read_text()
                                     .replace("ops-webhook", "b-ops"))
    names = [r.attributes["name"] for r in desired_state(tmp_path).resources
             if r.type == "receiver"]
    assert "a/b-ops" in names and "a-b/ops" in names
    assert len(names) == len(set(names))


def test_missing_slack_env_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.delenv("ACME_SLACK_URL", raising=False)
    desired = desired_state(write(tmp_path, alerting="file"))
    slack = next(r for r in desired.resources
                 if r.address == "tenant.acme.alertmanager.receiver.noc")
    assert "api_url" not in slack.attributes["slack_configs"][0]
    (warning,) = desired.diagnostics
    assert warning.severity.value == "warning" and "ACME_SLACK_URL" in warning.summary
    assert warning.file.endswith("acme.yaml") and warning.line


def test_kubernetes_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_SLACK_URL", "https://hooks.slack.example/x")
    res = by_address(write(tmp_path, alerting="kubernetes"))
    assert not [a for a in res if ".alertmanager." in a]
    cfg = res["tenant.acme.kubernetes.monitoring.coreos.com/v1alpha1.AlertmanagerConfig.ecp-ai-alerts"]
    spec = cfg.attributes["spec"]
    assert spec["route"]["matchers"] == [{"name": "tenant_id", "value": "acme", "matchType": "="}]
    assert spec["route"]["receiver"] == "ops-webhook"
    assert [r["receiver"] for r in spec["route"]["routes"]] == ["ops-webhook", "ops-email"]
    slack = next(r for r in spec["receivers"] if r["name"] == "noc")
    assert slack["slackConfigs"][0]["apiURL"] == {"name": "ecp-ai-alerting", "key": "slack-noc"}
    secret = res["tenant.acme.kubernetes.v1.Secret.ecp-ai-alerting"]
    assert secret.sensitive == ("data",) and list(secret.attributes["data"]) == ["slack-noc"]
    assert secret.address in cfg.depends_on


def test_no_routing_without_receivers(tmp_path):
    (tmp_path / "t.yaml").write_text(textwrap.dedent("""\
        apiVersion: ecp.ai/v1
        kind: Tenant
        metadata: {name: quiet}
        spec:
          services: {chatbot: 1}
          sla: {availability: "99%"}
        """))
    (tmp_path / "project.yaml").write_text(PROJECT.format(dashboards="http", alerting="file"))
    res = by_address(tmp_path)
    assert not [a for a in res if ".alertmanager." in a]


def test_every_example_expands_its_monitoring():
    res = desired_state(ROOT / "examples").resources
    tenants = {r.tenant for r in res}
    assert len(tenants) == 4
    for t in tenants:
        kinds = {r.type for r in res if r.tenant == t}
        assert "monitoring.coreos.com/v1.PrometheusRule" in kinds
        assert "monitoring.coreos.com/v1.ServiceMonitor" in kinds
        assert "v1.ConfigMap" in kinds


def test_alerts_go_by_severity_to_the_tenants_receivers(tmp_path):
    """criticalReceiver and warningReceiver (the documents' routing): critical alerts that name no
    receiver go to one, warnings to the other, the rest to the first receiver; in both modes.
    A severity receiver that is the first receiver anyway adds no route."""
    write(tmp_path)
    spec = tmp_path / "acme.yaml"
    spec.write_text(spec.read_text().replace(
        "  monitoring:\n", "  monitoring:\n    criticalReceiver: noc\n    warningReceiver: ops-email\n"))
    route = by_address(tmp_path)["tenant.acme.alertmanager.route.acme"].attributes
    assert route["receiver"] == "acme/ops-webhook"
    by_sev = [r for r in route["routes"] if any(m.startswith("severity=") for m in r["matchers"])]
    assert by_sev == [
        {"receiver": "acme/noc", "matchers": ['severity="critical"', 'notify=""']},
        {"receiver": "acme/ops-email", "matchers": ['severity="warning"', 'notify=""']}]
    # alerts that name receivers keep their own routes, before the severity ones
    named = [r["receiver"] for r in route["routes"] if 'alertname="high_cpu_usage"' in r["matchers"]]
    assert named == ["acme/ops-webhook", "acme/ops-email"]

    write(tmp_path, alerting="kubernetes")
    spec.write_text(spec.read_text().replace(
        "  monitoring:\n", "  monitoring:\n    criticalReceiver: ops-webhook\n    warningReceiver: noc\n"))
    amcfg = next(r for a, r in by_address(tmp_path).items() if "AlertmanagerConfig" in a)
    routes = amcfg.attributes["spec"]["route"]["routes"]
    by_sev = [r for r in routes if any(m["name"] == "severity" for m in r["matchers"])]
    assert by_sev == [{"receiver": "noc", "matchers": [
        {"name": "severity", "value": "warning", "matchType": "="},
        {"name": "notify", "value": "", "matchType": "="}]}]
