"""rbac, render, doctor and tenants --summary see the selected workspace's provider settings, as
plan and apply do: `-w demo` means the demo namespaces, database names, DSN and kubeconfig."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_NS = "ecp-demo-test-ai-service"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch) -> Path:
    """The example Project and its demo tenant; the demo workspace also names its own DSN
    variable and kubeconfig."""
    d = tmp_path / "ws"
    d.mkdir()
    shutil.copy(EXAMPLES / "test-ai-service.yaml", d)
    project = (EXAMPLES / "project.yaml").read_text()
    marker = "          namespacePrefix: ecp-demo-\n"
    assert marker in project
    project = project.replace(marker, marker + f"          kubeconfig: {tmp_path}/demo.kubeconfig\n", 1)
    marker = '          rolePattern: "demo_{tenant}_app"\n'
    assert marker in project
    project = project.replace(marker, marker + "          dsnEnv: ECPCTL_DEMO_ADMIN_DSN\n", 1)
    (d / "project.yaml").write_text(project)
    monkeypatch.chdir(tmp_path)
    return d


def test_rbac_names_the_workspaces_namespaces(ecpctl, ws):
    r = ecpctl("-w", "demo", "rbac", str(ws), "--namespaced")
    assert r.exit_code == 0, r.output
    assert f"namespace: {DEMO_NS}" in r.output
    assert "namespace: ecp-ai-test-ai-service" not in r.output


def test_render_writes_the_workspaces_namespaces(ecpctl, ws, tmp_path):
    r = ecpctl("-w", "demo", "render", str(ws), "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    names = {p.name for p in (tmp_path / "out").rglob("*.yaml")}
    assert f"01-namespace-{DEMO_NS}.yaml" in names
    assert "01-namespace-ecp-ai-test-ai-service.yaml" not in names


def test_doctor_reads_the_workspaces_targets(ecpctl, ws, monkeypatch):
    monkeypatch.delenv("ECPCTL_DEMO_ADMIN_DSN", raising=False)
    r = ecpctl("-w", "demo", "doctor", str(ws))
    assert r.exit_code == 1
    assert "ECPCTL_DEMO_ADMIN_DSN is not set" in r.output
    assert "demo.kubeconfig" in r.output


def test_tenants_summary_reads_the_workspaces_kubeconfig(ws, tmp_path):
    # (through the CLI the unit tests' fake provider stands in for Kubernetes, which the summary
    # refuses: the settings it would connect with are checked here)
    from ecpctl.cli.fleet_summary import _project
    demo = _project(ws, "demo").project.spec.providers.kubernetes
    assert str(demo.kubeconfig) == f"{tmp_path}/demo.kubeconfig"
    assert demo.namespacePrefix == "ecp-demo-"
    assert _project(ws, "default").project.spec.providers.kubernetes.kubeconfig is None
