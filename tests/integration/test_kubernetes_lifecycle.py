"""A tenant's life on a real API server through the CLI: apply, no-op plan, drift, out-of-band
deletion, pruning, destroy; `render` and `status` on the same cluster."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from providers.kubernetes.owned import has_path, manager_fields
from tests.integration.kubernetes_support import addr, kube_cli, ns, unique  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.kube]

DEPLOY = "apps/v1.Deployment"


def _kinds(state_types) -> int:
    return len(set(state_types))


def test_apply_then_no_op_plan_costs_one_list_per_kind(kube_cli):
    t = unique("life")
    kube_cli.tenant(t, {"chatbot": 150, "callbot": 50})
    r = kube_cli.apply()
    assert "Apply complete! Resources: 17 added, 0 changed, 0 destroyed." in r.output

    dep = kube_cli.get("deployment", "chatbot", ns(t))
    assert dep["status"]["availableReplicas"] == 2           # apply waited for readiness
    managers = {m["manager"] for m in dep["metadata"]["managedFields"]}
    assert "ecpctl" in managers

    r = kube_cli("plan", str(kube_cli.spec), "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output

    plan = kube_cli.plan_json()
    assert all(c["actions"] == ["no-op"] for c in plan["resource_changes"])
    counts = plan["requests"]["kubernetes"]
    kinds = _kinds(c["type"] for c in plan["resource_changes"])
    # one LIST per kind (+ the nodes for the capacity check), discovery, and nothing per object
    assert counts.get("list", 0) <= kinds + 1, counts
    assert counts.get("discovery", 0) <= 2, counts
    # no GET per object: one for the cluster's identity (kube-system's UID, the plan's target)
    # and one for the one tenant's namespace, read by name rather than by listing all of them
    assert set(counts) <= {"list", "discovery", "get"}, counts
    assert counts.get("get", 0) <= 2, counts
    assert sum(counts.values()) < len(plan["resource_changes"]), counts


def test_drift_of_owned_fields_is_shown_exactly_and_restored(kube_cli):
    t = unique("drift")
    kube_cli.tenant(t, {"chatbot": 150})
    kube_cli.apply()
    kube_cli.kubectl("scale", "deployment", "chatbot", "-n", ns(t), "--replicas=3")
    kube_cli.kubectl("patch", "configmap", "ecp-ai-config", "-n", ns(t), "--type=merge",
                     "-p", '{"data":{"TENANT_PRESET":"huge"}}')
    # a field ecpctl does not set is not drift: server defaults and other people's labels stay out
    kube_cli.kubectl("label", "service", "chatbot", "-n", ns(t), "team=voice")

    r = kube_cli("plan", str(kube_cli.spec), "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in r.output
    assert r.output.count("(changed outside ecpctl)") == 2
    assert "~ replicas = 3 -> 2" in r.output
    assert '~ TENANT_PRESET = "huge" -> "small"' in r.output
    plan = kube_cli.plan_json()
    changed = {c["address"]: c for c in plan["resource_changes"] if c["actions"] != ["no-op"]}
    assert set(changed) == {addr(t, DEPLOY, "chatbot"), addr(t, "v1.ConfigMap", "ecp-ai-config")}

    kube_cli.apply()
    dep = kube_cli.get("deployment", "chatbot", ns(t))
    assert dep["spec"]["replicas"] == 2
    assert has_path(manager_fields(dep, "ecpctl"), "spec", "replicas")     # ownership taken back
    cm = kube_cli.get("configmap", "ecp-ai-config", ns(t))
    assert cm["data"]["TENANT_PRESET"] == "small"
    assert kube_cli.get("service", "chatbot", ns(t))["metadata"]["labels"]["team"] == "voice"
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output


def test_edit_of_a_container_field_is_drift(kube_cli):
    t = unique("edit")
    kube_cli.tenant(t, {"chatbot": 50})
    kube_cli.apply()
    kube_cli.kubectl("set", "image", "deployment/chatbot", "-n", ns(t), "chatbot=ecp-ai/chatbot:hacked")
    r = kube_cli("plan", str(kube_cli.spec))
    assert "(changed outside ecpctl)" in r.output
    assert '~ image = "ecp-ai/chatbot:hacked" -> "ecp-ai/chatbot:latest"' in r.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output
    kube_cli.apply()
    image = kube_cli.get("deployment", "chatbot", ns(t))["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ecp-ai/chatbot:latest"


def test_object_deleted_out_of_band_is_recreated(kube_cli):
    t = unique("gone")
    kube_cli.tenant(t, {"chatbot": 50})
    kube_cli.apply()
    kube_cli.kubectl("delete", "service", "chatbot", "-n", ns(t))
    kube_cli.kubectl("delete", "configmap", "ecp-ai-config", "-n", ns(t))
    r = kube_cli("plan", str(kube_cli.spec))
    assert f"# {addr(t, 'v1.Service', 'chatbot')} will be created" in r.output
    assert "(deleted outside ecpctl)" in r.output
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in r.output
    kube_cli.apply()
    assert kube_cli.exists("service", "chatbot", ns(t))
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output


def test_removed_service_is_pruned(kube_cli):
    t = unique("prune")
    kube_cli.tenant(t, {"chatbot": 50, "advisor": 50})
    kube_cli.apply()
    assert kube_cli.exists("deployment", "advisor", ns(t))
    kube_cli.tenant(t, {"chatbot": 50})
    r = kube_cli("plan", str(kube_cli.spec))
    for kind in (DEPLOY, "v1.Service", "policy/v1.PodDisruptionBudget"):
        assert f"# {addr(t, kind, 'advisor')} will be destroyed" in r.output
    kube_cli.apply()
    assert not kube_cli.exists("deployment", "advisor", ns(t))
    assert not kube_cli.exists("service", "advisor", ns(t))
    assert not kube_cli.exists("poddisruptionbudget", "advisor", ns(t))
    assert kube_cli.exists("deployment", "chatbot", ns(t))
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output


def test_destroy_removes_the_namespace_and_waits(kube_cli):
    t = unique("bye")
    kube_cli.tenant(t, {"chatbot": 50})
    kube_cli.apply()
    r = kube_cli.ok("destroy", str(kube_cli.spec), "--auto-approve")
    assert "Destroy complete! Resources: 0 added, 0 changed, 14 destroyed." in r.output
    assert f"{addr(t, 'v1.Namespace', ns(t))}: Destruction complete" in r.output
    # the namespace controller has finalized it before destroy returned
    assert not kube_cli.exists("namespace", ns(t))
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec), "--destroy").output


def test_render_is_stable_and_passes_server_dry_run(kube_cli, tmp_path):
    t = unique("render")
    kube_cli.tenant(t, {"chatbot": 150, "callbot": 50})
    out = tmp_path / "manifests"
    r = kube_cli.ok("render", str(kube_cli.spec), "--out", str(out))
    assert "Rendered 17 manifests for 1 tenant" in r.output
    files = sorted(p for p in out.rglob("*.yaml"))
    first = {p: p.read_bytes() for p in files}
    assert files[0].name == f"01-namespace-{ns(t)}.yaml"
    assert all(p.parent.name == t for p in files)

    r = kube_cli.ok("render", str(kube_cli.spec), "--out", str(out))
    assert "(0 written, 0 removed, 17 unchanged)" in r.output
    assert {p: p.read_bytes() for p in out.rglob("*.yaml")} == first

    # the namespace must exist for a server-side dry run of what lives in it
    kube_cli.apply()
    kubectl = str(kube_cli.cp.binaries["kubectl"])
    proc = subprocess.run([kubectl, "--kubeconfig", str(kube_cli.kubeconfig), "apply",
                           "--dry-run=server", "-f", str(out), "-R"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == 17

    # a removed service's files disappear on the next render; other files stay
    (out / "README.md").write_text("mine")
    kube_cli.tenant(t, {"chatbot": 150})
    r = kube_cli.ok("render", str(kube_cli.spec), "--out", str(out))
    assert "3 removed" in r.output
    assert not list(out.rglob("*-callbot.yaml"))
    assert (out / "README.md").read_text() == "mine"


def test_status_shows_replicas_and_pending_reasons(kube_cli):
    t = unique("stat")
    kube_cli.tenant(t, {"chatbot": 150})
    kube_cli.apply()
    r = kube_cli.ok("status", t, "--path", str(kube_cli.spec))
    row = next(line for line in r.output.splitlines() if line.startswith(t))
    assert re.split(r"\s+", row.strip()) == [t, "chatbot", "2", "2", "2", "ready"]
    assert "1/1 service ready." in r.output

    # a pod that can never be scheduled: status says why
    kube_cli.kubectl("patch", "deployment", "chatbot", "-n", ns(t), "--type=json", "-p",
                     json.dumps([{"op": "add", "path": "/spec/template/spec/nodeSelector",
                                  "value": {"no-such-node": "x"}}]))
    deadline = time.monotonic() + 30
    while True:
        r = kube_cli("status", t, "--path", str(kube_cli.spec), "--json")
        doc = json.loads(r.stdout)
        svc = next(s for tt in doc["tenants"] if tt["tenant"] == t for s in tt["services"])
        # until the scheduler has said why (a pod is Pending before its PodScheduled reason)
        if any("nodes are available" in p for p in svc["problems"]) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    # not ready: exit 3 (a CI smoke test fails on it), one JSON document, ok as a command
    assert r.exit_code == 3, r.output
    assert doc["command"] == "status" and doc["ok"] is True and doc["all_ready"] is False
    assert doc["summary"] == {"services": 1, "ready": 0}
    assert svc["desired_replicas"] == 2
    assert svc["pending_pods"] >= 1
    assert svc["status"] == "degraded"
    assert any("Pending: 0/3 nodes are available" in p and "node affinity/selector" in p
               for p in svc["problems"]), svc
    r = kube_cli("status", t, "--path", str(kube_cli.spec))
    assert r.exit_code == 3
    assert f"{t}/chatbot (1 pending pod): pod chatbot-" in r.output
    assert "0/1 service ready." in r.output

    # ready again: exit 0, and the JSON document says so
    kube_cli.kubectl("patch", "deployment", "chatbot", "-n", ns(t), "--type=json", "-p",
                     json.dumps([{"op": "remove", "path": "/spec/template/spec/nodeSelector"}]))
    deadline = time.monotonic() + 60
    while (r := kube_cli("status", t, "--path", str(kube_cli.spec), "--json")).exit_code == 3 \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["all_ready"] is True and doc["summary"] == {"services": 1, "ready": 1}

    r = kube_cli("status", "nope", "--path", str(kube_cli.spec))
    assert r.exit_code == 1
    assert "no tenant nope" in r.output
