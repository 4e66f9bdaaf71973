"""The fleet dashboard applied for real in both dashboard modes: as a sidecar ConfigMap on the real
API server of tests/testenv (configmap mode), and as a folder and dashboard through the Grafana
provider against the fake Grafana (http mode; Grafana cannot be installed here). Each apply is
followed by a plan that says "No changes"; an edit by hand is drift that apply takes back."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import httpx
import pytest

from tests.integration.test_grafana_configmap_kube import run

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "ECPCTL_TEST_GRAFANA_TOKEN"
FLEET = ("--target", "_project")


def project(providers: str, mode: str, fleet: str) -> str:
    return f"""\
apiVersion: ecp.ai/v1
kind: Project
metadata: {{name: fleet}}
spec:
  providers:
{providers}
  monitoring:
    dashboardsMode: {mode}
    fleetDashboard: {fleet}
"""


def kube_project(kubeconfig: Path, namespace: str, prefix: str = "ecp-ai-") -> str:
    return project(f'    kubernetes: {{kubeconfig: "{kubeconfig}", namespacePrefix: {prefix}}}\n'
                   "    grafana: {folderPrefix: Tenants}", "configmap",
                   f"{{enabled: true, namespace: {namespace}}}")


def specs(tmp_path: Path, project: str) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    (d / "project.yaml").write_text(project)
    shutil.copy(ROOT / "tests/unit/specs/basic/acme.yaml", d / "acme.yaml")
    return d


@pytest.mark.kube
def test_configmap_mode_on_the_api_server(tmp_path, kubeconfig, kube_api_client, namespace):
    from kubernetes import client as k8s
    prefix = f"f{uuid.uuid4().hex[:6]}-"
    d = specs(tmp_path, kube_project(kubeconfig, namespace, prefix))
    name = f"{prefix}fleet-dashboard"
    r = run(tmp_path, "apply", str(d), "--auto-approve", *FLEET)
    assert r.exit_code == 0, r.output
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in r.output
    core = k8s.CoreV1Api(kube_api_client)
    cm = core.read_namespaced_config_map(name, namespace)
    assert cm.metadata.labels["grafana_dashboard"] == "1"
    assert cm.metadata.labels["app.kubernetes.io/managed-by"] == "ecpctl"
    assert cm.metadata.labels["ecp.ai/owner"]              # the owner mark, as on every object
    assert cm.metadata.annotations["grafana_folder"] == f"Tenants fleet ({prefix}*)"
    (key, text), = cm.data.items()
    board = json.loads(text)
    assert key == f"{board['uid']}.json" and board["uid"] == f"{prefix.rstrip('-')}_fleet-overview"
    assert board["title"] == f"Tenants fleet ({prefix}*)"

    r = run(tmp_path, "plan", str(d), *FLEET, "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output

    # an edit by hand is drift, and apply takes it back
    cm.data = {key: text.replace("Active tenants", "Tenants, edited")}
    core.replace_namespaced_config_map(name, namespace, cm)
    r = run(tmp_path, "plan", str(d), *FLEET, "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output
    r = run(tmp_path, "apply", str(d), "--auto-approve", *FLEET)
    assert r.exit_code == 0, r.output
    assert json.loads(core.read_namespaced_config_map(name, namespace).data[key]) == board

    # turned off, the next apply deletes it
    p = d / "project.yaml"
    p.write_text(p.read_text().replace("enabled: true", "enabled: false"))
    r = run(tmp_path, "apply", str(d), "--auto-approve", *FLEET)
    assert r.exit_code == 0, r.output
    assert "0 added, 0 changed, 1 destroyed" in r.output
    assert name not in {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}


@pytest.mark.kube
def test_a_namespace_that_does_not_exist_fails_in_one_line(tmp_path, kubeconfig):
    missing = f"no-such-{uuid.uuid4().hex[:6]}"
    d = specs(tmp_path, kube_project(kubeconfig, missing))
    r = run(tmp_path, "apply", str(d), "--auto-approve", *FLEET)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error")]
    assert errors and any(missing in ln for ln in errors), r.output


def grafana_project(url: str) -> str:
    return project(f'    grafana: {{url: "{url}", tokenEnv: {TOKEN_ENV}, folderPrefix: ECP-AI}}',
                   "http", "{enabled: true}")


def test_http_mode_against_the_grafana_fake(tmp_path, fake_grafana):
    env = {TOKEN_ENV: fake_grafana.token}
    d = specs(tmp_path, grafana_project(fake_grafana.url))
    r = run(tmp_path, "plan", str(d), *FLEET, env=env)
    assert r.exit_code == 0, r.output
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in r.output
    r = run(tmp_path, "apply", str(d), "--auto-approve", *FLEET, env=env)
    assert r.exit_code == 0, r.output

    def get(path: str):
        resp = httpx.get(fake_grafana.url + path,
                         headers={"Authorization": f"Bearer {fake_grafana.token}"})
        resp.raise_for_status()
        return resp.json()

    folder = get("/api/folders/ecp-ai_fleet")
    assert folder["title"] == "ECP-AI fleet (ecp-ai-*)"
    got = get("/api/dashboards/uid/ecp-ai_fleet-overview")
    assert got["meta"]["folderUid"] == "ecp-ai_fleet"
    assert got["dashboard"]["title"] == "ECP-AI fleet (ecp-ai-*)"
    assert "Deployment success rate" in [p["title"] for p in got["dashboard"]["panels"]]
    # the provider finds it by the ecp-ai tag, with the tenants' dashboards
    hits = get("/api/search?type=dash-db&tag=ecp-ai")
    assert "ecp-ai_fleet-overview" in {h["uid"] for h in hits}

    fake_grafana.reset_counts()
    r = run(tmp_path, "plan", str(d), *FLEET, "--detailed-exitcode", env=env)
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output
    assert fake_grafana.count("POST") == 0

    # destroy of the pseudo-tenant removes both, dashboard first
    r = run(tmp_path, "destroy", str(d), "--auto-approve", *FLEET, env=env)
    assert r.exit_code == 0, r.output
    assert "2 destroyed" in r.output
    assert "ecp-ai_fleet-overview" not in fake_grafana.dashboards
