"""`ecpctl rbac` offline: the rules follow the kinds of the plan, and the output is usable as is."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from ecpctl import rbac
from ecpctl.engine import desired_state

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str):
    from ecpctl.cli.main import cli
    return CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"}, catch_exceptions=False)


def by_resource(rules) -> dict[str, tuple[str, ...]]:
    return {r.resource_name: r.verbs for r in rules}


def test_rules_are_the_plans_kinds_and_the_reads_ecpctl_makes():
    rules = by_resource(rbac.rules_for(desired_state(EXAMPLES).resources))
    managed = ("create", "delete", "get", "list", "patch")
    for res in ("namespaces", "resourcequotas", "limitranges", "serviceaccounts", "configmaps",
                "secrets", "services", "deployments.apps", "horizontalpodautoscalers.autoscaling",
                "poddisruptionbudgets.policy", "networkpolicies.networking.k8s.io",
                "ingresses.networking.k8s.io", "cronjobs.batch", "persistentvolumeclaims",
                "prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com",
                "alertmanagerconfigs.monitoring.coreos.com"):
        assert rules[res] == managed, res
    assert rules["nodes"] == ("list",) and rules["pods"] == ("list",)
    assert rules["events"] == ("list",)
    # nothing ecpctl never touches: no watch, update or escalate, no kinds outside the plan
    assert not any(v in ("watch", "update", "*") for verbs in rules.values() for v in verbs)
    assert "statefulsets.apps" not in rules and "clusterroles.rbac.authorization.k8s.io" not in rules


def test_a_plan_without_workloads_needs_no_node_pod_or_autoscaler_reads():
    res = [r for r in desired_state(EXAMPLES).resources
           if r.provider == "kubernetes" and r.type in ("v1.Namespace", "v1.ConfigMap")]
    rules = by_resource(rbac.rules_for(res))
    assert set(rules) == {"namespaces", "configmaps"}


def test_printed_yaml_applies_as_is(tmp_path):
    r = run("rbac", str(EXAMPLES), "--service-account", "ci", "--namespace", "ops")
    assert r.exit_code == 0, r.output
    assert "&id" not in r.output and "*id" not in r.output
    docs = list(yaml.safe_load_all(r.output))
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    binding = docs[3]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ci", "namespace": "ops"}]
    assert binding["roleRef"]["name"] == docs[2]["metadata"]["name"] == "ci"
    assert "kubectl create token ci -n ops" in r.output


def test_out_dir_and_json(tmp_path):
    r = run("rbac", str(EXAMPLES), "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "rbac.yaml").is_file()
    script = (tmp_path / "out" / "make-kubeconfig.sh").read_text()
    assert "kubectl create token \"$SA\"" in script and "umask 077" in script
    r = run("rbac", str(EXAMPLES), "--json")
    doc = json.loads(r.stdout)
    assert doc["command"] == "rbac" and doc["ok"] and doc["format_version"]
    assert any(x["resource"] == "cronjobs" and x["apiGroup"] == "batch" for x in doc["rules"])


def test_no_kubernetes_objects_is_one_line_error(tmp_path):
    (tmp_path / "project.yaml").write_text(
        "apiVersion: ecp.ai/v1\nkind: Project\nmetadata:\n  name: x\n")
    r = run("rbac", str(tmp_path))
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        f"Error: the plan of {tmp_path} manages no Kubernetes objects: no RBAC is needed"]
