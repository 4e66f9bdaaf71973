"""`render`: stable YAML per object, Secrets left out (a comment in their place), clean-up of stale
rendered files; plus the static kind knowledge it relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ecpctl.kernel import Address, Resource
from providers.kubernetes import KubernetesProvider
from providers.kubernetes.kinds import builtin, crd_name, guess_plural, split_type
from providers.kubernetes.render import (
    HEADER,
    RENDERED_ANNOTATION,
    RENDERED_NOTE,
    render_manifests,
    write_tree,
)


def res(tenant, obj, sensitive=()) -> Resource:
    rtype = f"{obj['apiVersion']}.{obj['kind']}"
    return Resource(Address(tenant, "kubernetes", rtype, obj["metadata"]["name"]), obj, sensitive=tuple(sensitive))


RESOURCES = [
    res("acme", {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "chatbot", "namespace": "ecp-ai-acme"},
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}}}}),
    res("acme", {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "ecp-ai-acme", "annotations": {"ecp.ai/display-name": "AI 콜센터"}}}),
    res("acme", {"apiVersion": "v1", "kind": "Secret",
                 "metadata": {"name": "ecp-ai-db", "namespace": "ecp-ai-acme"}, "type": "Opaque",
                 "data": {"PGPASSWORD": "aHVudGVyMg==", "DATABASE_URL": "cG9zdGdyZXM6Ly8="}},
        sensitive=("data",)),
    res("acme", {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "ecp-ai-dashboard-slo", "namespace": "ecp-ai-acme"},
                 "data": {"slo.json": "{\n \"a\": 1\n}"}}),
    res("zeta", {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                 "metadata": {"name": "ecp-ai-slo", "namespace": "ecp-ai-zeta"}, "spec": {"groups": []}}),
    Resource(Address("acme", "postgres", "role", "acme_app"), {"name": "x"}),
]


def test_files_are_named_by_tenant_order_kind_and_name():
    files = render_manifests(RESOURCES)
    assert list(files) == [
        "acme/01-namespace-ecp-ai-acme.yaml",
        "acme/05-configmap-ecp-ai-dashboard-slo.yaml",
        "acme/05-secret-ecp-ai-db.yaml",
        "acme/06-deployment-chatbot.yaml",
        "zeta/09-prometheusrule-ecp-ai-slo.yaml",
    ]
    assert all(text.startswith(HEADER) for text in files.values())
    assert render_manifests(list(reversed(RESOURCES))) == files


def test_manifest_key_order_unicode_and_block_strings():
    files = render_manifests(RESOURCES)
    dep = files["acme/06-deployment-chatbot.yaml"]
    assert dep == HEADER + ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: chatbot\n"
                            "  namespace: ecp-ai-acme\n  annotations:\n"
                            f"    {RENDERED_ANNOTATION}: {RENDERED_NOTE}\n"
                            "spec:\n  replicas: 2\n  selector:\n    matchLabels:\n      a: b\n")
    assert "AI 콜센터" in files["acme/01-namespace-ecp-ai-acme.yaml"]
    cm = files["acme/05-configmap-ecp-ai-dashboard-slo.yaml"]
    assert "slo.json: |-\n    {\n     \"a\": 1\n    }\n" in cm
    assert yaml.safe_load(cm)["data"]["slo.json"] == "{\n \"a\": 1\n}"


def test_secrets_are_left_out_with_a_note_naming_them_and_their_keys():
    text = render_manifests(RESOURCES)["acme/05-secret-ecp-ai-db.yaml"]
    assert "aHVudGVyMg==" not in text and "cG9zdGdyZXM6Ly8=" not in text
    assert yaml.safe_load(text) is None                  # comments only: no object to apply
    assert all(line.startswith("#") for line in text.splitlines())
    assert "Secret ecp-ai-db (namespace ecp-ai-acme) is not rendered" in text
    assert "Keys it holds: DATABASE_URL, PGPASSWORD." in text
    assert RESOURCES[2].attributes["data"]["PGPASSWORD"] == "aHVudGVyMg=="     # input untouched


def test_write_tree_is_idempotent_and_prunes_only_its_own_files(tmp_path: Path):
    files = render_manifests(RESOURCES)
    changed, removed = write_tree(files, tmp_path)
    assert changed == sorted(files) and removed == []
    assert write_tree(files, tmp_path) == ([], [])
    (tmp_path / "acme" / "notes.yaml").write_text("kind: mine\n")
    fewer = {k: v for k, v in files.items() if "chatbot" not in k and not k.startswith("zeta/")}
    changed, removed = write_tree(fewer, tmp_path, only=["acme"])
    assert removed == ["acme/06-deployment-chatbot.yaml"]
    assert (tmp_path / "zeta" / "09-prometheusrule-ecp-ai-slo.yaml").exists()    # not in scope
    assert (tmp_path / "acme" / "notes.yaml").exists()                          # not rendered
    changed, removed = write_tree(fewer, tmp_path)
    assert removed == ["zeta/09-prometheusrule-ecp-ai-slo.yaml"]
    assert not (tmp_path / "zeta").exists()


def test_kind_knowledge():
    assert split_type("monitoring.coreos.com/v1.PrometheusRule") == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert split_type("v1.Namespace") == ("v1", "Namespace")
    with pytest.raises(ValueError):
        split_type("Namespace")
    assert [guess_plural(k) for k in ("Widget", "Ingress", "Policy", "Gateway", "Box")] == [
        "widgets", "ingresses", "policies", "gateways", "boxes"]
    assert crd_name("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig") == \
        "alertmanagerconfigs.monitoring.coreos.com"
    dep = builtin("apps/v1", "Deployment")
    assert dep.object_path("x", "n") == "/apis/apps/v1/namespaces/n/deployments/x"
    assert dep.collection_path() == "/apis/apps/v1/deployments"
    ns = builtin("v1", "Namespace")
    assert ns.object_path("a", "ignored") == "/api/v1/namespaces/a"
    assert KubernetesProvider.requires_replace("apps/v1.Deployment") == ("spec.selector",)
    assert KubernetesProvider.requires_replace("v1.Service") == ("spec.clusterIP",)
    assert KubernetesProvider.requires_replace("policy/v1.PodDisruptionBudget") == ()


def test_hpa_scaled_deployments_are_rendered_without_replicas():
    hpa = res("acme", {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                       "metadata": {"name": "chatbot", "namespace": "ecp-ai-acme"},
                       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                                   "name": "chatbot"}, "minReplicas": 2}})
    files = render_manifests([RESOURCES[0], hpa])
    dep = yaml.safe_load(files["acme/06-deployment-chatbot.yaml"])
    assert "replicas" not in dep["spec"]
    assert RESOURCES[0].attributes["spec"]["replicas"] == 2
    assert yaml.safe_load(render_manifests([RESOURCES[0]])["acme/06-deployment-chatbot.yaml"])["spec"]["replicas"] == 2
