"""Plans bound to their targets, on real control planes and Postgres: the plan names each
provider's resolved target (human header and JSON), and a saved plan made against one control
plane is refused when the kubeconfig points at another, naming both clusters."""

from __future__ import annotations

import json

import pytest

from tests.integration.kubernetes_support import kube_cli, unique  # noqa: F401
from tests.integration.postgres_support import DSN_ENV
from tests.testenv.pytest_kube import private_control_plane

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]


def test_plan_names_each_target_and_a_saved_plan_applies_only_to_its_cluster(
        kube_cli, postgres_server):
    t = unique("bind")
    spec = kube_cli.tenant(t, {"chatbot": 10})
    spec.write_text(spec.read_text().replace("database:\n    enabled: false",
                                             "database:\n    enabled: true"))
    (kube_cli.spec / "project.yaml").write_text(
        (kube_cli.spec / "project.yaml").read_text().replace(
            "    kubernetes: {}\n", f"    kubernetes: {{}}\n    postgres: {{dsnEnv: {DSN_ENV}}}\n"))
    env = {DSN_ENV: postgres_server.admin_dsn}
    uid = kube_cli.cp.kubectl_json("get", "namespace", "kube-system")["metadata"]["uid"]

    doc = json.loads(kube_cli.ok("plan", str(kube_cli.spec), "--json", env=env).stdout)
    k8s = doc["provider_targets"]["kubernetes"]
    assert k8s["cluster_uid"] == uid and k8s["server"].startswith("https://127.0.0.1:")
    assert k8s["context"]
    pg = doc["provider_targets"]["postgres"]
    assert pg["port"] == postgres_server.port and pg["database"] == "postgres"
    assert pg["system_identifier"].isdigit()

    human = kube_cli.ok("plan", str(kube_cli.spec), env=env).output
    assert "Targets:" in human
    assert f"cluster kube-system uid {uid}" in human
    assert f"(system identifier {pg['system_identifier']})" in human

    saved = kube_cli.root / "tfplan"
    kube_cli.ok("plan", str(kube_cli.spec), "-o", str(saved), env=env)
    with private_control_plane(nodes=1) as other:
        other_uid = other.kubectl_json("get", "namespace", "kube-system")["metadata"]["uid"]
        r = kube_cli("apply", str(saved), env={**env, "KUBECONFIG": str(other.kubeconfig)})
        assert r.exit_code == 1, r.output
        assert "saved plan refused" in r.output
        assert f"cluster kube-system uid {uid}" in r.output
        assert f"cluster kube-system uid {other_uid}" in r.output
        assert not other.kubectl("get", "namespace", f"ecp-ai-{t}", "--ignore-not-found",
                                 "-o", "name", check=False).stdout.strip()
    # against the cluster it was made for, it applies
    kube_cli.ok("apply", str(saved), "--no-wait", env=env)
    assert kube_cli.exists("namespace", f"ecp-ai-{t}")
    kube_cli.ok("destroy", str(kube_cli.spec), "--auto-approve", env=env)
