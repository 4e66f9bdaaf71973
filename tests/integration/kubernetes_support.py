"""Helpers for the Kubernetes provider's integration tests: spec files and an `ecpctl` runner.

Each test writes a small Project and its own uniquely named tenants (so tests never share
namespaces in the session's control plane) and runs the real CLI in-process against a private
state database, with the real kubernetes provider.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: kube-tests
spec:
  providers:
    kubernetes: {}
  monitoring:
    dashboardsMode: configmap
    alertmanagerMode: kubernetes
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def tenant_yaml(name: str, services: dict[str, int], *, availability: str = "99.5%",
                autoscaling: bool = False, preset: str = "auto", receivers: bool = True) -> str:
    svc = "\n".join(f"    {k}: {v}" for k, v in services.items())
    mon = """
  monitoring:
    receivers:
      - name: ops
        webhook: {url: "https://hooks.example.com/alerts"}
    alerts:
      - name: high_cpu_usage
        condition: cpu_usage > 80
        for: 5m
        notify: [ops]""" if receivers else ""
    return f"""\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {name}
  displayName: Test {name}
spec:
  preset: {preset}
  services:
{svc}
  sla:
    availability: "{availability}"
  database:
    enabled: false
  autoscaling:
    enabled: {str(autoscaling).lower()}{mon}
"""


class KubeCli:
    """`ecpctl` against a real control plane, with a spec dir and a state dir of its own."""

    def __init__(self, root: Path, control_plane):
        self.root = root
        self.cp = control_plane
        self.spec = root / "spec"
        self.data_dir = root / ".ecpctl"
        self.spec.mkdir(parents=True, exist_ok=True)
        (self.spec / "project.yaml").write_text(PROJECT)
        self.tenants: list[str] = []

    @property
    def kubeconfig(self) -> Path:
        return self.cp.kubeconfig

    def tenant(self, name: str, services: dict[str, int], **kw) -> Path:
        path = self.spec / f"{name}.yaml"
        path.write_text(tenant_yaml(name, services, **kw))
        if name not in self.tenants:
            self.tenants.append(name)
        return path

    def remove_tenant(self, name: str) -> None:
        (self.spec / f"{name}.yaml").unlink()

    def __call__(self, *args: str, env: dict | None = None) -> Result:
        from ecpctl.cli.main import cli
        full_env = {"KUBECONFIG": str(self.kubeconfig), "NO_COLOR": "1",
                    "ECPCTL_PROVIDER_OVERRIDES": None, "ECPCTL_STATE_URL": None,
                    "ECPCTL_WORKSPACE": None, "COLUMNS": "200", **(env or {})}
        return CliRunner().invoke(cli, ["--data-dir", str(self.data_dir), *args], env=full_env,
                                  catch_exceptions=False)

    def ok(self, *args: str, **kw) -> Result:
        r = self(*args, **kw)
        assert r.exit_code == 0, f"ecpctl {' '.join(args)} exited {r.exit_code}:\n{r.output}"
        return r

    def apply(self, *extra: str) -> Result:
        return self.ok("apply", str(self.spec), "--auto-approve", *extra)

    def plan_json(self, *extra: str) -> dict:
        r = self.ok("plan", str(self.spec), "--json", *extra)
        return json.loads(r.stdout)

    def kubectl(self, *args: str, **kw):
        return self.cp.kubectl(*args, **kw)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict:
        ns = ["-n", namespace] if namespace else []
        return self.cp.kubectl_json("get", kind, name, *ns, "--show-managed-fields")

    def exists(self, kind: str, name: str, namespace: str | None = None) -> bool:
        ns = ["-n", namespace] if namespace else []
        r = self.cp.kubectl("get", kind, name, *ns, "--ignore-not-found", "-o", "name", check=False)
        return bool(r.stdout.strip())

    def cleanup(self) -> None:
        if not self.cp.apiserver_running():
            return
        for t in self.tenants:
            self.cp.kubectl("delete", "namespace", f"ecp-ai-{t}", "--wait=false",
                            "--ignore-not-found", check=False)


def ns(tenant: str) -> str:
    return f"ecp-ai-{tenant}"


def addr(tenant: str, rtype: str, name: str) -> str:
    return f"tenant.{tenant}.kubernetes.{rtype}.{name}"


@pytest.fixture
def kube_cli(tmp_path: Path, control_plane) -> Iterator[KubeCli]:
    k = KubeCli(tmp_path, control_plane)
    try:
        yield k
    finally:
        k.cleanup()
