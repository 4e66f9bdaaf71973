"""Reads scoped to a few tenants (`plan --target`) against a real API server: each LIST names their
tenants in its label selector, so the server sends only their objects, and nothing is lost."""

from __future__ import annotations

import pytest

from ecpctl.kernel import Address, Resource, ResourceState
from providers.kubernetes import KubernetesProvider
from providers.kubernetes.read import SCOPE_MAX_TENANTS
from providers.protocol import ApplyRequest, ConfigureRequest, ReadRequest
from tests.integration.kubernetes_support import unique

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def _provider(kubeconfig) -> KubernetesProvider:
    p = KubernetesProvider()
    resp = p.configure(ConfigureRequest(settings={}, options={"kubeconfig": str(kubeconfig)}))
    assert not resp.diagnostics, resp.diagnostics
    return p


def _configmap(tenant: str, ns: str, name: str) -> Resource:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": ns,
                        "labels": {"app.kubernetes.io/managed-by": "ecpctl",
                                   "ecp.ai/tenant": tenant}},
           "data": {"tenant": tenant}}
    return Resource(addr=Address(tenant, "kubernetes", "v1.ConfigMap", name), attributes=obj)


def _namespace(tenant: str, name: str) -> Resource:
    obj = {"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "ecpctl",
                                                 "ecp.ai/tenant": tenant}}}
    return Resource(addr=Address(tenant, "kubernetes", "v1.Namespace", name), attributes=obj)


class _Recorder:
    """The real client's requests, recorded on their way to the server."""

    def __init__(self, client):
        self.sent: list[tuple[str, str, dict]] = []
        self._request = client.request

    def __call__(self, method, path, *, verb, query=None, **kw):
        self.sent.append((verb, path, dict(query or ())))
        return self._request(method, path, verb=verb, query=query, **kw)


def _state(p: KubernetesProvider, r: Resource) -> ResourceState:
    resp = p.apply(ApplyRequest(desired=r, prior=None, live=None))
    assert resp.state is not None
    return resp.state


def test_a_read_of_few_tenants_selects_them_by_label_and_finds_every_object(control_plane, namespace,
                                                                            monkeypatch):
    p = _provider(control_plane.kubeconfig)
    try:
        tenants = [unique("sc") for _ in range(3)]
        fleet = {t: [_configmap(t, namespace, f"{t}-{i}") for i in range(3)] for t in tenants}
        states = {r.address: _state(p, r) for rs in fleet.values() for r in rs}
        ns_res = _namespace(tenants[0], namespace)

        rec = _Recorder(p.client)
        monkeypatch.setattr(p.client, "request", rec)
        wanted = fleet[tenants[0]] + [ns_res]
        resp = p.read(ReadRequest(desired=wanted, prior=[]))

        # the tenant's objects, and nothing of the others
        assert set(resp.live) == {r.address for r in wanted}
        lists = [q for verb, path, q in rec.sent if verb == "list"]
        assert [q.get("labelSelector") for q in lists] == [
            f"app.kubernetes.io/managed-by=ecpctl,ecp.ai/tenant in ({tenants[0]})"]
        # its namespace is read by name, not by listing every namespace of the cluster
        assert [(verb, path) for verb, path, _ in rec.sent if verb != "list"] == [
            ("get", f"/api/v1/namespaces/{namespace}")]

        # an object in state whose tenant label was removed out of band is still found (by name)
        gone = fleet[tenants[1]][0]
        control_plane.kubectl("label", "configmap", gone.attributes["metadata"]["name"], "-n",
                              namespace, "ecp.ai/tenant-")
        rec.sent.clear()
        resp = p.read(ReadRequest(desired=fleet[tenants[1]], prior=[states[gone.address]]))
        assert set(resp.live) == {r.address for r in fleet[tenants[1]]}
        assert [verb for verb, _, _ in rec.sent] == ["list", "get"]
    finally:
        p.close()


def test_a_read_of_many_tenants_lists_each_kind_once_without_naming_them(control_plane, namespace,
                                                                         monkeypatch):
    p = _provider(control_plane.kubeconfig)
    try:
        tenants = [f"{unique('m')}-{i}" for i in range(SCOPE_MAX_TENANTS + 1)]
        wanted = [_configmap(t, namespace, t) for t in tenants]
        _state(p, wanted[0])
        rec = _Recorder(p.client)
        monkeypatch.setattr(p.client, "request", rec)
        resp = p.read(ReadRequest(desired=wanted, prior=[]))
        assert set(resp.live) == {wanted[0].address}
        assert [q.get("labelSelector") for verb, _, q in rec.sent if verb == "list"] == [
            "app.kubernetes.io/managed-by=ecpctl"]
    finally:
        p.close()
