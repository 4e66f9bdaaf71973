"""Capacity check: tenant requests x replicas against node allocatable, GPUs first."""

from __future__ import annotations

import pytest

from ecpctl.kernel import Severity
from ecpctl.kernel import Address
from ecpctl.kernel import Resource
from providers.kubernetes.capacity import allocatable, check, pod_requests, tenant_needs


def deployment(tenant: str, name: str, replicas: int, cpu="200m", memory="512Mi", gpus=0) -> Resource:
    req = {"cpu": cpu, "memory": memory}
    lim = {}
    if gpus:
        req["nvidia.com/gpu"] = str(gpus)
        lim["nvidia.com/gpu"] = str(gpus)
    attrs = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": name, "namespace": f"ecp-ai-{tenant}"},
             "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                 {"name": name, "resources": {"requests": req, "limits": lim}}]}}}}
    return Resource(Address(tenant, "kubernetes", "apps/v1.Deployment", name), attrs)


def node(cpu="16", memory="64Gi", gpus="2", unschedulable=False) -> dict:
    return {"spec": {"unschedulable": True} if unschedulable else {},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "nvidia.com/gpu": gpus,
                                       "pods": "110"}}}


NODES = [node(), node(), node(memory="65832996Ki")]


def test_needs_sum_requests_times_replicas_per_tenant():
    needs = tenant_needs([deployment("a", "callbot", 3, gpus=1), deployment("a", "chatbot", 2, cpu="1"),
                          deployment("b", "stt", 1, cpu="500m", memory="1Gi", gpus=1)])
    assert needs["a"].total == {"cpu": 2600, "memory": 5 * 512 * 2**20, "nvidia.com/gpu": 3}
    assert needs["a"].per_pod["nvidia.com/gpu"] == (1, "callbot")
    assert needs["b"].total["nvidia.com/gpu"] == 1


def test_gpu_limits_alone_count_as_requests():
    spec = {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "2"}}}]}
    assert pod_requests(spec) == {"nvidia.com/gpu": 2}


def test_allocatable_skips_cordoned_nodes_and_parses_quantities():
    a = allocatable(NODES + [node(gpus="8", unschedulable=True)])
    assert a.nodes == 3
    assert a.total["nvidia.com/gpu"] == 6
    assert a.total["cpu"] == 48000
    assert a.largest["nvidia.com/gpu"] == 2


def test_over_capacity_is_a_warning_gpus_first_and_an_error_when_strict():
    resources = [deployment("big", "callbot", 8, cpu="7", memory="10Gi", gpus=1)]
    diags = check(resources, allocatable(NODES), strict=False)
    assert [d.severity for d in diags] == [Severity.WARNING] * 2
    assert [d.one_line() for d in diags] == [
        "tenant big: requests 8 nvidia.com/gpu but the cluster's nodes can allocate 6 in total",
        "tenant big: requests 56 CPU but the cluster's nodes can allocate 48 in total"]
    mem = check([deployment("m", "stt", 4, memory="60Gi")], allocatable(NODES), strict=False)
    assert [d.one_line() for d in mem] == [
        "tenant m: requests 240Gi memory but the cluster's nodes can allocate 190.8Gi in total"]
    strict = check(resources, allocatable(NODES), strict=True)
    assert all(d.severity is Severity.ERROR for d in strict)


def test_a_pod_larger_than_any_node_is_reported():
    diags = check([deployment("x", "nlp", 1, gpus=4)], allocatable(NODES), strict=False)
    assert [d.one_line() for d in diags] == [
        "tenant x: nlp asks for 4 nvidia.com/gpu per pod but no node can allocate more than 2"]


def test_within_capacity_says_nothing():
    assert check([deployment("a", "chatbot", 2)], allocatable(NODES), strict=True) == []


# --- a capacity check that may not run: said in the plan, an error with --strict ---------------

def _forbidden_to_list(monkeypatch, forbidden: set[str]):
    """A Kubernetes provider whose client may list only what `forbidden` leaves out."""
    import providers.kubernetes.provider as kp
    from providers.kubernetes.client import KubeError

    def list_objects(client, info, selector=None, field_selector=None):
        if info.kind in forbidden:
            raise KubeError(403, "Forbidden", f"cannot list {info.kind}", "GET", "/api/v1/x")
        return NODES if info.kind == "Node" else []

    class Discovery:
        def info(self, api_version, kind):
            return object()

    class Client:
        server = "https://127.0.0.1:1"

    monkeypatch.setattr(kp, "list_objects", list_objects)
    p = kp.KubernetesProvider()
    p._client, p._discovery = Client(), Discovery()
    monkeypatch.setattr(p, "_info", lambda t: object())
    return p


def _validate(p, strict=False):
    from providers.protocol import ValidateRequest
    return p.validate(ValidateRequest(resources=[deployment("a", "callbot", 1)], strict=strict))


@pytest.mark.parametrize("forbidden, summary", [
    ("Node", "capacity not checked: not allowed to list nodes (403); the cluster's allocatable "
             "is unknown"),
    ("Pod", "placement on nodes not checked: not allowed to list pods (403); only the "
            "cluster-wide totals were checked"),
])
def test_a_forbidden_list_says_what_was_not_checked(monkeypatch, forbidden, summary):
    p = _forbidden_to_list(monkeypatch, {forbidden})
    diags = _validate(p).diagnostics
    assert [(d.severity, d.summary) for d in diags] == [(Severity.WARNING, summary)]
    assert "ecpctl rbac" in diags[0].detail
    assert [d.severity for d in _validate(p, strict=True).diagnostics] == [Severity.ERROR]
