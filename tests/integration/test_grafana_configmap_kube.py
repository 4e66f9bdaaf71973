"""Dashboards as ConfigMaps for kube-prometheus-stack's Grafana sidecar (dashboardsMode: configmap),
and the PrometheusRule / ServiceMonitor / AlertmanagerConfig objects, applied through the
Kubernetes provider to the real API server of tests/testenv (with the prometheus-operator CRDs)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.kube]
ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = "tenant.*.kubernetes.v1.ConfigMap.ecp-ai-dashboard-*"
MONITORING = ("--target", "tenant.*.kubernetes.monitoring.coreos.com*",
              "--target", DASHBOARDS, "--target", "tenant.*.kubernetes.v1.Secret.ecp-ai-alerting")


def run(tmp_path: Path, *args: str, env: dict | None = None):
    from ecpctl.cli.main import cli
    return CliRunner().invoke(cli, ["--data-dir", str(tmp_path / ".ecpctl"), *args],
                              env={"ECPCTL_PROVIDER_OVERRIDES": "", "NO_COLOR": "1",
                                   "COLUMNS": "200", **(env or {})},
                              catch_exceptions=False)


def project(kubeconfig: Path, prefix: str) -> str:
    return f"""\
apiVersion: ecp.ai/v1
kind: Project
metadata: {{name: sidecar}}
spec:
  providers:
    kubernetes: {{kubeconfig: "{kubeconfig}", namespacePrefix: {prefix}}}
    grafana: {{folderPrefix: Tenants}}
  monitoring:
    ruleLabels: {{release: kps}}
    dashboardsMode: configmap
    alertmanagerMode: kubernetes
"""


def test_dashboard_configmaps_on_the_api_server(tmp_path, kubeconfig, kube_api_client):
    from kubernetes import client as k8s
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "project.yaml").write_text(project(kubeconfig, prefix))
    shutil.copy(ROOT / "tests/unit/specs/basic/acme.yaml", specs / "acme.yaml")
    r = run(tmp_path, "apply", str(specs), "--auto-approve", "--target", DASHBOARDS, "--no-wait")
    assert r.exit_code == 0, r.output
    assert "Apply complete! Resources: 3 added" in r.output      # the namespace and two ConfigMaps
    core = k8s.CoreV1Api(kube_api_client)
    ns = f"{prefix}acme"
    try:
        cms = core.list_namespaced_config_map(ns, label_selector="grafana_dashboard=1").items
        assert sorted(c.metadata.name for c in cms) == ["ecp-ai-dashboard-overview",
                                                        "ecp-ai-dashboard-slo"]
        for cm in cms:
            assert cm.metadata.annotations["grafana_folder"] == "Tenants / Acme 콜센터"
            assert cm.metadata.labels["ecp.ai/tenant"] == "acme"
            (key, text), = cm.data.items()
            board = json.loads(text)
            assert key == f"acme-{cm.metadata.name.rsplit('-', 1)[1]}.json"
            assert board["uid"].startswith("ecp-acme-") and "ecp-ai" in board["tags"]
        r = run(tmp_path, "plan", str(specs), "--target", DASHBOARDS, "--detailed-exitcode")
        assert r.exit_code == 0, r.output
        assert "No changes." in r.output
        # an edit by hand (kubectl edit) is drift, and apply takes it back
        cm = core.read_namespaced_config_map("ecp-ai-dashboard-slo", ns)
        cm.metadata.annotations["grafana_folder"] = "Somewhere else"
        core.replace_namespaced_config_map("ecp-ai-dashboard-slo", ns, cm)
        r = run(tmp_path, "plan", str(specs), "--target", DASHBOARDS, "--detailed-exitcode")
        assert r.exit_code == 2, r.output
        assert "Somewhere else" in r.output and "ecp-ai-dashboard-slo" in r.output
        r = run(tmp_path, "apply", str(specs), "--auto-approve", "--target", DASHBOARDS, "--no-wait")
        assert r.exit_code == 0, r.output
        cm = core.read_namespaced_config_map("ecp-ai-dashboard-slo", ns)
        assert cm.metadata.annotations["grafana_folder"] == "Tenants / Acme 콜센터"
    finally:
        r = run(tmp_path, "destroy", str(specs), "--auto-approve", "--target", DASHBOARDS)
        assert r.exit_code == 0, r.output


def test_every_example_applies_its_monitoring_objects(tmp_path, kubeconfig, kube_api_client):
    from kubernetes import client as k8s
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    specs = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", specs)
    (specs / "project.yaml").write_text(project(kubeconfig, prefix))
    env = {"NOC_SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T0/B0/XXXX"}
    r = run(tmp_path, "apply", str(specs), "--auto-approve", *MONITORING, "--no-wait", env=env)
    assert r.exit_code == 0, r.output
    assert "XXXX" not in r.output
    custom = k8s.CustomObjectsApi(kube_api_client)
    try:
        for tenant in ("ai-call-center-prod", "global-call-center", "my-ai-service",
                       "test-ai-service"):
            ns = prefix + tenant
            rule = custom.get_namespaced_custom_object("monitoring.coreos.com", "v1", ns,
                                                       "prometheusrules", "ecp-ai-slo")
            assert rule["metadata"]["labels"]["release"] == "kps"
            names = [g["name"] for g in rule["spec"]["groups"]]
            assert names[:2] == [f"ecp-ai-{tenant}-slo-recording", f"ecp-ai-{tenant}-slo-alerts"]
            custom.get_namespaced_custom_object("monitoring.coreos.com", "v1", ns,
                                                "servicemonitors", "ecp-ai-services")
        amc = custom.get_namespaced_custom_object("monitoring.coreos.com", "v1alpha1",
                                                  prefix + "global-call-center",
                                                  "alertmanagerconfigs", "ecp-ai-alerts")
        assert amc["spec"]["route"]["matchers"][0]["value"] == "global-call-center"
        r = run(tmp_path, "plan", str(specs), *MONITORING, "--detailed-exitcode", env=env)
        assert r.exit_code == 0, r.output
        assert "No changes." in r.output
    finally:
        r = run(tmp_path, "destroy", str(specs), "--auto-approve", *MONITORING, env=env)
        assert r.exit_code == 0, r.output
