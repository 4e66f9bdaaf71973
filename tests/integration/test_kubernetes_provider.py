"""The provider's protocol methods against a real API server: configuration errors, bulk reads that
do not grow with the number of objects, permissions, Secrets, discovery and error translation."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ecpctl.kernel import Address, ProviderError, Resource
from providers.kubernetes import KubernetesProvider
from providers.protocol import (
    ApplyRequest,
    ConfigureRequest,
    DeleteRequest,
    ReadRequest,
    ValidateRequest,
)
from tests.integration.kubernetes_support import kube_cli, unique  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.kube]

MANAGED = {"app.kubernetes.io/managed-by": "ecpctl"}


def provider(kubeconfig, **options) -> KubernetesProvider:
    p = KubernetesProvider()
    resp = p.configure(ConfigureRequest(settings={}, options={"kubeconfig": str(kubeconfig), **options}))
    assert not resp.diagnostics, resp.diagnostics
    return p


def res(tenant: str, obj: dict, sensitive=()) -> Resource:
    rtype = f"{obj['apiVersion']}.{obj['kind']}"
    name = obj["metadata"]["name"]
    return Resource(addr=Address(tenant, "kubernetes", rtype, name), attributes=obj, sensitive=tuple(sensitive))


def configmap(ns: str, name: str, **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": dict(MANAGED)}, "data": data}


def test_configuration_errors_say_which_setting_to_fix(tmp_path: Path, control_plane):
    def err(settings, options) -> str:
        resp = KubernetesProvider().configure(ConfigureRequest(settings=settings, options=options))
        assert len(resp.diagnostics) == 1
        return resp.diagnostics[0].one_line()

    missing = tmp_path / "nope.yaml"
    assert err({"kubeconfig": str(missing)}, {}).startswith(f"kubeconfig {missing} does not exist")
    assert "context nowhere is not in kubeconfig" in err({}, {"kubeconfig": str(control_plane.kubeconfig),
                                                               "context": "nowhere"})
    assert "it has: ecpctl-testenv" in err({}, {"kubeconfig": str(control_plane.kubeconfig),
                                                 "context": "nowhere"})

    # a server that is not listening
    cfg = json.loads(control_plane.kubeconfig.read_text())
    from tests.testenv.kube import free_port
    cfg["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(json.dumps(cfg))
    text = err({}, {"kubeconfig": str(dead)})
    assert "cannot reach the API server at https://127.0.0.1:" in text
    assert "connection refused" in text

    # credentials the server does not accept
    cfg = json.loads(control_plane.kubeconfig.read_text())
    cfg["users"][0]["user"] = {"token": "not-a-token"}
    bad = tmp_path / "bad.kubeconfig"
    bad.write_text(json.dumps(cfg))
    assert "rejected the credentials (401 Unauthorized)" in err({}, {"kubeconfig": str(bad)})

    # the flag wins over the Project's setting
    p = KubernetesProvider()
    assert not p.configure(ConfigureRequest(settings={"kubeconfig": str(missing)},
                                            options={"kubeconfig": str(control_plane.kubeconfig)})).diagnostics
    p.close()


def test_cli_reports_an_unreachable_cluster_in_one_line(kube_cli, tmp_path: Path):
    cfg = json.loads(kube_cli.kubeconfig.read_text())
    from tests.testenv.kube import free_port
    cfg["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(json.dumps(cfg))
    kube_cli.tenant(unique("dead"), {"chatbot": 50})
    r = kube_cli("plan", str(kube_cli.spec), env={"KUBECONFIG": str(dead)})
    assert r.exit_code == 1
    assert "Error: provider kubernetes: cannot reach the API server at https://127.0.0.1:" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_read_costs_one_list_per_kind_whatever_the_number_of_objects(control_plane, namespace):
    p = provider(control_plane.kubeconfig)
    try:
        desired = [res("t", configmap(namespace, f"cm-{i}", i=str(i))) for i in range(40)]
        for d in desired:
            p.apply(ApplyRequest(desired=d, prior=None, live=None))
        before = p.client.counts()
        resp = p.read(ReadRequest(desired=desired, prior=[]))
        after = resp.requests
        sent = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        assert {k: v for k, v in sent.items() if v} == {"list": 1}
        assert len(resp.live) == 40
        lv = resp.live[desired[7].address]
        assert lv.observed == {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "cm-7", "namespace": namespace, "labels": MANAGED},
                               "data": {"i": "7"}}
    finally:
        p.close()


def test_secret_values_never_leave_the_cluster(control_plane, namespace):
    p = provider(control_plane.kubeconfig)
    password = "s3cr3t-value-xyz"
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "db", "namespace": namespace, "labels": dict(MANAGED)},
              "type": "Opaque", "data": {"PGPASSWORD": base64.b64encode(password.encode()).decode()}}
    d = res("t", secret, sensitive=("data",))
    try:
        state = p.apply(ApplyRequest(desired=d, prior=None, live=None)).state
        text = json.dumps(state.observed)
        assert password not in text and secret["data"]["PGPASSWORD"] not in text
        assert state.observed["data"]["PGPASSWORD"].startswith("sha256:")
        lv = p.read(ReadRequest(desired=[d], prior=[state])).live[d.address]
        assert lv.observed == state.observed              # no drift, and still no value

        # the server's own error message would carry the value: it is scrubbed
        bad = dict(secret, metadata={**secret["metadata"], "labels": {"x": password + "!"}})
        with pytest.raises(ProviderError) as err:
            p.apply(ApplyRequest(desired=res("t", bad, sensitive=("metadata.labels",)), prior=None,
                                 live=None))
        assert password not in str(err.value)
        assert "Invalid" in str(err.value)
    finally:
        p.close()


def test_validate_names_missing_crds_and_versions(control_plane):
    p = provider(control_plane.kubeconfig)
    try:
        widget = res("acme", {"apiVersion": "example.com/v1", "kind": "Widget",
                              "metadata": {"name": "w", "namespace": "x"}})
        podmon = res("acme", {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
                              "metadata": {"name": "p", "namespace": "x"}})
        oldmon = res("acme", {"apiVersion": "monitoring.coreos.com/v1beta9", "kind": "ServiceMonitor",
                              "metadata": {"name": "s", "namespace": "x"}})
        rule = res("acme", {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                            "metadata": {"name": "r", "namespace": "x"}})
        lines = [d.one_line() for d in p.validate(ValidateRequest([widget, podmon, oldmon, rule])).diagnostics]
        assert lines == [
            f"{widget.address}: the cluster has no CRD widgets.example.com (install the CRD that "
            "defines Widget)",
            f"{podmon.address}: the cluster has no CRD podmonitors.monitoring.coreos.com (install "
            "the prometheus-operator CRDs)",
            f"{oldmon.address}: the cluster's CRD servicemonitors.monitoring.coreos.com does not serve "
            "version v1beta9 (it serves monitoring.coreos.com/v1; install the prometheus-operator CRDs)",
        ]
        # a CRD that the desired state itself creates is not missing
        crd = res("acme", {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                           "metadata": {"name": "widgets.example.com"},
                           "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}})
        assert not p.validate(ValidateRequest([crd, widget])).diagnostics
        # reading a kind the cluster does not serve finds nothing, without an error
        assert p.read(ReadRequest(desired=[widget], prior=[])).live == {}
    finally:
        p.close()


def test_crd_then_its_objects_in_one_apply(control_plane, namespace):
    p = provider(control_plane.kubeconfig, timeout=30)
    group = f"{unique('g')}.example.com"
    crd = res("acme", {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}", "labels": dict(MANAGED)},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                         "type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}})
    gadget = res("acme", {"apiVersion": f"{group}/v1", "kind": "Gadget",
                          "metadata": {"name": "g1", "namespace": namespace, "labels": dict(MANAGED)},
                          "spec": {"size": 3}})
    try:
        p.read(ReadRequest(desired=[crd, gadget], prior=[]))       # discovery cached before the CRD
        crd_state = p.apply(ApplyRequest(desired=crd, prior=None, live=None)).state
        state = p.apply(ApplyRequest(desired=gadget, prior=None, live=None)).state
        assert state.observed["spec"] == {"size": 3}
        live = p.read(ReadRequest(desired=[crd, gadget], prior=[])).live
        assert live[gadget.address].observed == state.observed
        p.delete(DeleteRequest(prior=state))
        p.delete(DeleteRequest(prior=crd_state))
    finally:
        p.close()


def test_permissions_namespace_fallback_and_403(control_plane, namespace, tmp_path: Path):
    cp = control_plane
    cp.kubectl("create", "serviceaccount", "limited", "-n", namespace)
    cp.kubectl("create", "role", "cm-reader", "-n", namespace, "--verb=get,list,patch",
               "--resource=configmaps")
    cp.kubectl("create", "rolebinding", "cm-reader", "-n", namespace, "--role=cm-reader",
               f"--serviceaccount={namespace}:limited")
    token = cp.kubectl("create", "token", "limited", "-n", namespace).stdout.strip()
    cfg = json.loads(cp.kubeconfig.read_text())
    cfg["users"][0]["user"] = {"token": token}
    kc = tmp_path / "limited.kubeconfig"
    kc.write_text(json.dumps(cfg))

    admin = provider(cp.kubeconfig)
    cm = res("t", configmap(namespace, "limited-cm", a="1"))
    admin.apply(ApplyRequest(desired=cm, prior=None, live=None))
    admin.close()

    p = provider(kc)
    try:
        # not allowed to list configmaps cluster-wide: one LIST in the object's namespace instead
        resp = p.read(ReadRequest(desired=[cm], prior=[]))
        assert resp.live[cm.address].observed["data"] == {"a": "1"}
        dep = res("t", {"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "x", "namespace": namespace}})
        with pytest.raises(ProviderError) as err:
            p.read(ReadRequest(desired=[dep], prior=[]))
        text = str(err.value)
        assert "forbidden (403)" in text
        assert 'cannot list resource "deployments"' in text
        assert not err.value.retryable
    finally:
        p.close()


def test_unreachable_server_is_retryable(isolated_control_plane, tmp_path: Path):
    cp = isolated_control_plane
    p = provider(cp.kubeconfig)
    d = res("t", configmap("default", "x", a="1"))
    try:
        cp.stop_apiserver()
        with pytest.raises(ProviderError) as err:
            p.read(ReadRequest(desired=[d], prior=[]))
        assert err.value.retryable
        assert "cannot reach the API server at https://127.0.0.1:" in str(err.value)
        cp.start_apiserver()
        assert p.read(ReadRequest(desired=[d], prior=[])).live == {}
    finally:
        p.close()
