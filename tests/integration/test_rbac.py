"""`ecpctl rbac` against the real API server (RBAC authorization on): the objects it prints are
applied by an admin, its script makes a kubeconfig from the ServiceAccount's token (TokenRequest),
and ecpctl then applies, plans (no-op and drift) and destroys as that ServiceAccount alone. With one
rule taken away, the failure names the missing permission in one line."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.kubernetes_support import addr, kube_cli, ns, unique  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.kube]


@pytest.fixture
def service_account(control_plane):
    name, namespace = unique("ecpctl"), unique("ecpctl-sa")
    yield name, namespace
    for kind in ("clusterrolebinding", "clusterrole"):
        control_plane.kubectl("delete", kind, name, "--ignore-not-found", check=False)
    control_plane.kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found",
                          check=False)


def ci_kubeconfig(control_plane, out: Path, tmp_path: Path) -> Path:
    """Runs the script `ecpctl rbac -o` wrote, as an admin would, with the real kubectl."""
    target = tmp_path / "ci.kubeconfig"
    env = {**os.environ, "PATH": f"{control_plane.bin_dir}{os.pathsep}{os.environ['PATH']}",
           "KUBECONFIG": str(control_plane.kubeconfig), "OUT": str(target), "DURATION": "1h"}
    r = subprocess.run(["sh", str(out / "make-kubeconfig.sh")], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    return target


def test_ecpctl_works_as_the_service_account_it_prints(kube_cli, control_plane, service_account,
                                                        tmp_path):
    sa, sa_ns = service_account
    t = unique("rbac")
    kube_cli.tenant(t, {"chatbot": 10, "advisor": 5}, autoscaling=True)
    out = tmp_path / "rbac"
    r = kube_cli.ok("rbac", str(kube_cli.spec), "-o", str(out), "--service-account", sa,
                    "--namespace", sa_ns)
    assert "rbac.yaml" in r.output
    control_plane.kubectl("apply", "-f", str(out / "rbac.yaml"))
    as_sa = {"KUBECONFIG": str(ci_kubeconfig(control_plane, out, tmp_path))}
    who = control_plane.kubectl("auth", "whoami", "-o", "json", "--kubeconfig",
                                as_sa["KUBECONFIG"], check=False)
    if who.returncode == 0:
        assert json.loads(who.stdout)["status"]["userInfo"]["username"] == \
            f"system:serviceaccount:{sa_ns}:{sa}"

    # apply, then a no-op plan
    r = kube_cli("apply", str(kube_cli.spec), "--auto-approve", env=as_sa)
    assert r.exit_code == 0, r.output
    assert "Apply complete!" in r.output
    r = kube_cli("plan", str(kube_cli.spec), "--detailed-exitcode", env=as_sa)
    assert r.exit_code == 0 and "No changes." in r.output, r.output

    # drift made by someone else shows in the plan and is put right
    control_plane.kubectl("label", "service", "chatbot", "-n", ns(t), "ecp.ai/service=edited",
                          "--overwrite")
    r = kube_cli("plan", str(kube_cli.spec), "--detailed-exitcode", env=as_sa)
    assert r.exit_code == 2, r.output
    assert f"# {addr(t, 'v1.Service', 'chatbot')} will be updated in-place" in r.output
    r = kube_cli("apply", str(kube_cli.spec), "--auto-approve", env=as_sa)
    assert r.exit_code == 0, r.output
    assert kube_cli.get("service", "chatbot", ns(t))["metadata"]["labels"]["ecp.ai/service"] == "chatbot"

    # one rule fewer: the failure names the permission, in one line
    role = control_plane.kubectl_json("get", "clusterrole", sa)
    for rule in role["rules"]:
        if "poddisruptionbudgets" in rule["resources"]:
            rule["resources"].remove("poddisruptionbudgets")
    role["rules"] = [rule for rule in role["rules"] if rule["resources"]]
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(role))
    r = kube_cli("plan", str(kube_cli.spec), env=as_sa)
    assert r.exit_code == 1, r.output
    lines = [line for line in r.output.splitlines() if "poddisruptionbudgets" in line]
    assert len(lines) == 1, r.output
    assert "forbidden" in lines[0] and "cannot list resource \"poddisruptionbudgets\"" in lines[0]
    assert f"system:serviceaccount:{sa_ns}:{sa}" in lines[0]
    assert "Traceback" not in r.output
    control_plane.kubectl("apply", "-f", str(out / "rbac.yaml"))

    # destroy as the service account
    r = kube_cli("destroy", str(kube_cli.spec), "--auto-approve", env=as_sa)
    assert r.exit_code == 0, r.output
    assert not kube_cli.exists("namespace", ns(t))


def test_namespaced_rbac_puts_namespaced_rules_in_roles(kube_cli, control_plane, service_account,
                                                        tmp_path):
    sa, sa_ns = service_account
    t = unique("rbns")
    kube_cli.tenant(t, {"chatbot": 10})
    r = kube_cli.ok("rbac", str(kube_cli.spec), "--namespaced", "--service-account", sa,
                    "--namespace", sa_ns, "--json")
    doc = json.loads(r.stdout)
    assert doc["command"] == "rbac" and doc["ok"] is True
    kinds = [(o["kind"], o["metadata"].get("namespace")) for o in doc["objects"]]
    assert ("Role", ns(t)) in kinds and ("RoleBinding", ns(t)) in kinds
    cluster = next(o for o in doc["objects"] if o["kind"] == "ClusterRole")
    cluster_resources = {res for rule in cluster["rules"] for res in rule["resources"]}
    assert cluster_resources == {"namespaces", "nodes"}
    # the objects pass the real API server's validation (the tenant namespace made first, as the
    # docs say)
    control_plane.kubectl("create", "namespace", ns(t))
    control_plane.kubectl("create", "namespace", sa_ns)
    manifest = "\n---\n".join(json.dumps(o) for o in doc["objects"])
    control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=manifest)
