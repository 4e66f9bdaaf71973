"""`ecpctl doctor` against the real servers of the test environment (control plane with kwok GPU
nodes and the prometheus-operator CRDs, Postgres 15, Alertmanager 0.25; Grafana is the documented
fake), and the checks that fail: a Postgres DSN that cannot connect, an identity without the
permissions `ecpctl rbac` lists, a Grafana token that is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.integration.kubernetes_support import tenant_yaml, unique

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: doctor-tests
spec:
  providers:
    kubernetes: {{}}
    postgres:
      dsnEnv: DOCTOR_PG_DSN
    alertmanager:
      url: {am}
    grafana:
      url: {grafana}
      tokenEnv: DOCTOR_GRAFANA_TOKEN
"""


@pytest.fixture
def spec(tmp_path, alertmanager, fake_grafana) -> Path:
    d = tmp_path / "spec"
    d.mkdir()
    (d / "project.yaml").write_text(PROJECT.format(am=alertmanager.url, grafana=fake_grafana.url))
    (d / "gpu.yaml").write_text(tenant_yaml(unique("doc"), {"callbot": 10, "chatbot": 10}))
    return d


def doctor(spec: Path, env: dict, *extra: str):
    from ecpctl.cli.main import cli
    return CliRunner().invoke(cli, ["doctor", str(spec), *extra], catch_exceptions=False,
                              env={"NO_COLOR": "1", "COLUMNS": "250", **env})


def lines(output: str) -> dict[str, str]:
    return {ln.split(":", 1)[0][2:]: ln for ln in output.splitlines() if ln[:2] in
            ("✔ ", "✘ ", "! ", "- ")}


def test_every_check_passes_on_the_test_environment(spec, control_plane, postgres_server,
                                                     fake_grafana):
    env = {"KUBECONFIG": str(control_plane.kubeconfig),
           "DOCTOR_PG_DSN": postgres_server.admin_dsn, "DOCTOR_GRAFANA_TOKEN": fake_grafana.token}
    r = doctor(spec, env)
    assert r.exit_code == 0, r.output
    got = lines(r.output)
    assert got["Kubernetes version"].startswith("✔ Kubernetes version: v1.")
    assert got["Nodes"].startswith("✔ Nodes: 3 of 3 nodes ready")
    assert got["GPU device plugin"].startswith("✔") and "nvidia.com/gpu" in got["GPU device plugin"]
    assert got["CRDs"] == "✔ CRDs: AlertmanagerConfig, PrometheusRule, ServiceMonitor served"
    assert got["Permissions"].startswith("✔ Permissions: admin holds all")
    assert got["Postgres version"].startswith("✔ Postgres version: 15")
    assert got["Postgres admin role"] == "✔ Postgres admin role: postgres: superuser"
    assert got["Alertmanager"].startswith("✔ Alertmanager: 0.")
    assert got["Grafana"].startswith("✔ Grafana: 10.4.0") and got["Grafana token"].startswith("✔")
    assert got["Prometheus rule selector"].startswith("- ")    # no Prometheus CRD here
    r = doctor(spec, env, "--json")
    doc = json.loads(r.stdout)
    assert doc["command"] == "doctor" and doc["ok"] is True and doc["counts"]["fail"] == 0
    assert {c["name"] for c in doc["checks"]} >= {"Kubernetes version", "Permissions", "Postgres version"}


def test_failing_checks_say_what_to_do_and_exit_1(spec, control_plane, tmp_path, fake_grafana):
    # an identity with no permissions at all: a fresh ServiceAccount's token
    sa_ns = unique("doctor")
    control_plane.kubectl("create", "namespace", sa_ns)
    try:
        control_plane.kubectl("create", "serviceaccount", "nobody", "-n", sa_ns)
        token = control_plane.kubectl("create", "token", "nobody", "-n", sa_ns).stdout.strip()
        cfg = json.loads(control_plane.kubeconfig.read_text())
        cfg["users"] = [{"name": "admin", "user": {"token": token}}]
        kc = tmp_path / "nobody.kubeconfig"
        kc.write_text(json.dumps(cfg))
        env = {"KUBECONFIG": str(kc), "DOCTOR_PG_DSN": "postgresql://postgres:pw-x9@127.0.0.1:1/postgres",
               "DOCTOR_GRAFANA_TOKEN": "glsa_wrong"}
        r = doctor(spec, env)
        rj = doctor(spec, env, "--json")
    finally:
        control_plane.kubectl("delete", "namespace", sa_ns, "--wait=false", check=False)
    assert r.exit_code == 1
    got = lines(r.output)
    perm = got["Permissions"]
    assert perm.startswith(f"✘ Permissions: system:serviceaccount:{sa_ns}:nobody lacks ")
    assert "Fix: apply the output of `ecpctl rbac PATH`" in perm
    assert got["Nodes"].startswith("✘ Nodes: cannot list nodes")
    assert got["Postgres"].startswith("✘ Postgres: cannot connect to Postgres")
    assert "pw-x9" not in r.output
    assert got["Grafana token"].startswith("✘ Grafana token: $DOCTOR_GRAFANA_TOKEN was refused (401)")
    # the JSON view says the same, with ok false
    doc = json.loads(rj.stdout)
    assert rj.exit_code == 1 and doc["ok"] is False
    failed = {c["name"] for c in doc["checks"] if c["status"] == "fail"}
    assert {"Permissions", "Postgres", "Grafana token"} <= failed
