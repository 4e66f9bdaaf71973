"""Expansion: every tenant becomes labelled, addressed, dependency-ordered resources."""

from __future__ import annotations

import re
from pathlib import Path

from ecpctl.engine import desired_state
from ecpctl.kernel import Address

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def test_every_kubernetes_object_is_labelled_and_addressed():
    d = desired_state(EXAMPLES)
    k8s = [r for r in d.resources if r.provider == "kubernetes"]
    assert k8s
    for r in k8s:
        labels = r.attributes["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "ecpctl"
        assert labels["ecp.ai/tenant"] == r.tenant
        assert all(LABEL_VALUE.match(v) and len(v) <= 63 for v in labels.values()), labels
        a = Address.parse(r.address)
        assert (a.tenant, a.provider, a.type, a.name) == (r.tenant, "kubernetes", r.type, r.name)
    kinds = {r.type for r in k8s if r.tenant == "ai-call-center-prod"}
    for kind in ("v1.Namespace", "v1.ResourceQuota", "v1.LimitRange", "v1.ServiceAccount",
                 "v1.ConfigMap", "v1.Secret", "apps/v1.Deployment", "v1.Service",
                 "autoscaling/v2.HorizontalPodAutoscaler", "policy/v1.PodDisruptionBudget",
                 "networking.k8s.io/v1.NetworkPolicy", "networking.k8s.io/v1.Ingress",
                 "monitoring.coreos.com/v1.PrometheusRule", "monitoring.coreos.com/v1.ServiceMonitor",
                 "monitoring.coreos.com/v1alpha1.AlertmanagerConfig"):
        assert kind in kinds, kind


def test_gpu_services_request_gpus_and_secrets_are_sensitive():
    d = desired_state(EXAMPLES)
    by = {r.address: r for r in d.resources}
    callbot = by["tenant.ai-call-center-prod.kubernetes.apps/v1.Deployment.callbot"]
    res = callbot.attributes["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert res["requests"]["nvidia.com/gpu"] == "1" and res["limits"]["nvidia.com/gpu"] == "1"
    assert res["requests"]["cpu"] == "200m" and res["requests"]["memory"] == "512Mi"
    chatbot = by["tenant.ai-call-center-prod.kubernetes.apps/v1.Deployment.chatbot"]
    assert "nvidia.com/gpu" not in chatbot.attributes["spec"]["template"]["spec"]["containers"][0][
        "resources"]["requests"]
    secret = by["tenant.ai-call-center-prod.kubernetes.v1.Secret.ecp-ai-db"]
    assert secret.sensitive == ("data",)
    role = "tenant.ai-call-center-prod.postgres.role.ai-call-center-prod_app"
    assert role in secret.depends_on and by[role].sensitive == ("password",)
    # 99.95%: at least two replicas, and the PDB keeps all but one
    pdb = by["tenant.ai-call-center-prod.kubernetes.policy/v1.PodDisruptionBudget.callbot"]
    assert callbot.attributes["spec"]["replicas"] >= 2
    assert pdb.attributes["spec"]["minAvailable"] == callbot.attributes["spec"]["replicas"] - 1


def test_preset_above_large_is_a_valid_label(tmp_path):
    spec = tmp_path / "huge.yaml"
    spec.write_text("""apiVersion: ecp.ai/v1
kind: Tenant
metadata: {name: huge}
spec:
  preset: auto
  services: {callbot: 1000, stt: 1000}
  sla: {availability: "99.9%"}
""")
    d = desired_state(spec)
    assert d.sizings["huge"].preset == "large+"
    ns = next(r for r in d.resources if r.type == "v1.Namespace")
    assert ns.attributes["metadata"]["labels"]["ecp.ai/preset"] == "large-plus"


def test_generated_password_is_kept_from_state():
    first = desired_state(EXAMPLES)
    role = "tenant.my-ai-service.postgres.role.my-ai-service_app"
    state = {r.address: _as_state(r) for r in first.resources}
    again = desired_state(EXAMPLES, state)
    pw = {r.address: r.attributes.get("password") for r in again.resources if r.address == role}
    assert pw[role] == next(r for r in first.resources if r.address == role).attributes["password"]
    rotated = desired_state(EXAMPLES, state, replace=(role,))
    assert next(r for r in rotated.resources if r.address == role).attributes["password"] != pw[role]


def _as_state(r):
    from ecpctl.kernel import ResourceState
    return ResourceState(addr=r.addr, attributes=r.attributes, observed=r.attributes,
                         sensitive=r.sensitive, depends_on=r.depends_on)
