"""Field ownership on a real API server: HPA-managed replicas, conflicts with other field managers,
--force-conflicts, and import of an object ecpctl did not create."""

from __future__ import annotations

import time

import pytest

from providers.kubernetes.owned import has_path, manager_fields
from tests.integration.kubernetes_support import addr, kube_cli, ns, unique  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def _replicas_owners(dep: dict) -> set[str]:
    out = set()
    for m in dep["metadata"]["managedFields"]:
        if has_path(m.get("fieldsV1") or {}, "spec", "replicas"):
            out.add(m["manager"])
    return out


def _wait_replicas(kube_cli, name: str, namespace: str, want: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        dep = kube_cli.get("deployment", name, namespace)
        if dep["spec"]["replicas"] == want or time.monotonic() > deadline:
            return dep
        time.sleep(1)


def test_hpa_owns_replicas_and_ecpctl_does_not_fight_it(kube_cli):
    t = unique("hpa")
    # 99.9% availability: 2 replicas, and the HPA's minReplicas is 2
    kube_cli.tenant(t, {"chatbot": 150}, availability="99.9%", autoscaling=True)
    kube_cli.apply()
    dep = kube_cli.get("deployment", "chatbot", ns(t))
    assert dep["spec"]["replicas"] == 2                   # created with the sized replica count
    assert dep["status"]["availableReplicas"] == 2
    assert not has_path(manager_fields(dep, "ecpctl"), "spec", "replicas")
    hpa = kube_cli.get("hpa", "chatbot", ns(t))
    assert hpa["spec"]["minReplicas"] == 2

    # someone (or an autoscaler) scales it: the HPA's business, not drift
    kube_cli.kubectl("scale", "deployment", "chatbot", "-n", ns(t), "--replicas=3")
    r = kube_cli("plan", str(kube_cli.spec), "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output

    # below minReplicas: the HPA controller itself scales back up, through the scale subresource
    kube_cli.kubectl("scale", "deployment", "chatbot", "-n", ns(t), "--replicas=1")
    dep = _wait_replicas(kube_cli, "chatbot", ns(t), 2)
    assert dep["spec"]["replicas"] == 2
    assert "kube-controller-manager" in _replicas_owners(dep)
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output

    # a config change re-applies the Deployment without touching replicas
    kube_cli.kubectl("scale", "deployment", "chatbot", "-n", ns(t), "--replicas=3")
    spec = kube_cli.spec / f"{t}.yaml"
    spec.write_text(spec.read_text().replace("  preset: auto\n",
                                             "  preset: auto\n  image: {tag: v2}\n"))
    r = kube_cli.apply()
    assert "Apply complete!" in r.output
    dep = kube_cli.get("deployment", "chatbot", ns(t))
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "ecp-ai/chatbot:v2"
    assert dep["spec"]["replicas"] == 3
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output


def test_enabling_autoscaling_hands_replicas_over_without_a_reset(kube_cli):
    t = unique("handover")
    kube_cli.tenant(t, {"chatbot": 150}, availability="99.9%", autoscaling=False)
    kube_cli.apply()
    dep = kube_cli.get("deployment", "chatbot", ns(t))
    assert has_path(manager_fields(dep, "ecpctl"), "spec", "replicas")
    generation = dep["metadata"]["generation"]

    kube_cli.tenant(t, {"chatbot": 150}, availability="99.9%", autoscaling=True)
    r = kube_cli.apply()
    assert f"{addr(t, 'autoscaling/v2.HorizontalPodAutoscaler', 'chatbot')}: Creation complete" in r.output
    dep = kube_cli.get("deployment", "chatbot", ns(t))
    assert dep["spec"]["replicas"] == 2
    assert dep["metadata"]["generation"] == generation        # never reset to 1 and back
    assert not has_path(manager_fields(dep, "ecpctl"), "spec", "replicas")
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output

    # and back: without autoscaling the spec's replica count is ecpctl's again
    kube_cli.tenant(t, {"chatbot": 150}, availability="99.9%", autoscaling=False)
    r = kube_cli.ok("plan", str(kube_cli.spec))
    assert f"# {addr(t, 'autoscaling/v2.HorizontalPodAutoscaler', 'chatbot')} will be destroyed" in r.output
    assert f"# {addr(t, 'apps/v1.Deployment', 'chatbot')} will be updated in-place" in r.output
    assert "+ replicas = 2" in r.output
    kube_cli.apply()
    dep = kube_cli.get("deployment", "chatbot", ns(t))
    assert dep["spec"]["replicas"] == 2
    assert has_path(manager_fields(dep, "ecpctl"), "spec", "replicas")
    assert not kube_cli.exists("hpa", "chatbot", ns(t))
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output


def test_conflict_with_another_manager_is_named_and_force_takes_ownership(kube_cli):
    t = unique("conflict")
    kube_cli.tenant(t, {"chatbot": 50})
    kube_cli.kubectl("create", "namespace", ns(t))
    kube_cli.kubectl("apply", "--server-side", "--field-manager=team-x", "-f", "-", input=f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: ecp-ai-config, namespace: {ns(t)}}}
data: {{TENANT_PRESET: premium, OWNER: team-x}}
""")
    r = kube_cli("plan", str(kube_cli.spec))
    assert r.exit_code == 1
    line = next(line for line in r.output.splitlines() if "conflict" in line)
    assert addr(t, "v1.ConfigMap", "ecp-ai-config") in line
    assert 'field manager "team-x" owns data.TENANT_PRESET' in line
    assert "--force-conflicts" in line
    assert "Traceback" not in r.output

    r = kube_cli("apply", str(kube_cli.spec), "--auto-approve")
    assert r.exit_code == 1
    assert 'field manager "team-x" owns data.TENANT_PRESET' in r.output

    # the namespace and ConfigMap were made outside ecpctl: taking them over is explicit
    # (--adopt), and taking the fields another manager owns is too (--force-conflicts)
    kube_cli.apply("--force-conflicts", "--adopt")
    cm = kube_cli.get("configmap", "ecp-ai-config", ns(t))
    assert cm["data"]["TENANT_PRESET"] == "small"
    assert cm["data"]["OWNER"] == "team-x"             # the other manager's own field is left alone
    assert has_path(manager_fields(cm, "ecpctl"), "data", "TENANT_PRESET")
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output


def test_shared_field_changed_by_the_spec_is_a_conflict(kube_cli):
    t = unique("shared")
    kube_cli.tenant(t, {"chatbot": 50})
    kube_cli.apply()
    # another manager applies the same value: both own it, nothing drifted
    kube_cli.kubectl("apply", "--server-side", "--field-manager=team-y", "-f", "-", input=f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: ecp-ai-config, namespace: {ns(t)}}}
data: {{CHATBOT_MAX_SESSIONS: "50"}}
""")
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output
    kube_cli.tenant(t, {"chatbot": 60})
    r = kube_cli("plan", str(kube_cli.spec))
    assert r.exit_code == 1
    assert 'field manager "team-y" owns data.CHATBOT_MAX_SESSIONS' in r.output
    kube_cli.apply("--force-conflicts")
    assert kube_cli.get("configmap", "ecp-ai-config", ns(t))["data"]["CHATBOT_MAX_SESSIONS"] == "60"


def test_import_adopts_an_existing_object(kube_cli):
    t = unique("import")
    kube_cli.tenant(t, {"chatbot": 50})
    kube_cli.kubectl("create", "namespace", ns(t))
    kube_cli.kubectl("create", "configmap", "ecp-ai-config", "-n", ns(t),
                     f"--from-literal=TENANT_ID={t}", "--from-literal=TENANT_PRESET=wrong",
                     "--from-literal=EXTRA=keep")
    cm_addr = addr(t, "v1.ConfigMap", "ecp-ai-config")
    ns_addr = addr(t, "v1.Namespace", ns(t))

    r = kube_cli("import", cm_addr, f"{ns(t)}/nope", "--path", str(kube_cli.spec))
    assert r.exit_code == 1 and "names" in r.output          # ID and spec disagree
    r = kube_cli.ok("import", ns_addr, ns(t), "--path", str(kube_cli.spec))
    r = kube_cli.ok("import", cm_addr, f"{ns(t)}/ecp-ai-config", "--path", str(kube_cli.spec))
    assert "Import successful" in r.output
    shown = kube_cli.ok("state", "show", cm_addr).output
    assert "wrong" in shown                                  # live values, as the spec shapes them

    r = kube_cli.ok("plan", str(kube_cli.spec))
    assert f"# {cm_addr} will be updated in-place" in r.output
    assert '~ TENANT_PRESET = "wrong" -> "small"' in r.output
    assert "EXTRA" not in r.output                           # not a field the spec sets
    assert f"# {ns_addr} will be updated in-place" in r.output

    kube_cli.apply()
    cm = kube_cli.get("configmap", "ecp-ai-config", ns(t))
    assert cm["data"]["TENANT_PRESET"] == "small" and cm["data"]["EXTRA"] == "keep"
    assert has_path(manager_fields(cm, "ecpctl"), "data", "TENANT_PRESET")
    assert "No changes." in kube_cli.ok("plan", str(kube_cli.spec)).output

    r = kube_cli("import", addr(t, "v1.Service", "chatbot"), f"{ns(t)}/chatbot",
                 "--path", str(kube_cli.spec))
    assert r.exit_code == 1
    assert "is already managed" in r.output
