"""Per-node placement (providers/kubernetes/placement.py, capacity.check_placement): what the
cluster already runs is counted, what the plan removes is freed, node selectors and taints are
honoured; offline, on node and pod documents as the API server returns them."""

from __future__ import annotations

from ecpctl.kernel import Address, Resource, Severity
from providers.kubernetes.capacity import check_placement
from providers.kubernetes.placement import pod_requests

T4 = {"nvidia.com/gpu.product": "Tesla-T4"}


def node(name: str, gpus: int = 2, labels=T4, taints=()) -> dict:
    return {"metadata": {"name": name, "labels": dict(labels)},
            "spec": {"taints": list(taints)},
            "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "nvidia.com/gpu": str(gpus),
                                       "pods": "110"}}}


def pod(node_name: str, gpus: int, ns: str = "other", labels=None, phase="Running") -> dict:
    return {"metadata": {"namespace": ns, "labels": labels or {"app": "x"}},
            "spec": {"nodeName": node_name, "containers": [{"resources": {
                "requests": {"cpu": "100m", "nvidia.com/gpu": str(gpus)}}}]},
            "status": {"phase": phase}}


def workload(tenant: str, name: str, replicas: int, gpus: int, selector=None) -> Resource:
    pod_spec = {"containers": [{"name": name, "resources": {
        "requests": {"cpu": "200m", "memory": "512Mi", "nvidia.com/gpu": str(gpus)},
        "limits": {"nvidia.com/gpu": str(gpus)}}}],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    if selector:
        pod_spec["nodeSelector"] = selector
    attrs = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": name, "namespace": f"ecp-ai-{tenant}"},
             "spec": {"replicas": replicas, "selector": {"matchLabels": {"svc": name, "t": tenant}},
                      "template": {"metadata": {"labels": {"svc": name, "t": tenant}},
                                   "spec": pod_spec}}}
    return Resource(Address(tenant, "kubernetes", "apps/v1.Deployment", name), attrs)


NODES = [node("n1"), node("n2")]


def lines(diags):
    return [d.summary for d in diags]


def test_fits_alone_but_not_beside_what_already_runs():
    want = [workload("acme", "callbot", 2, 1)]
    assert check_placement(want, NODES, [], [], strict=False) == []
    running = [pod("n1", 2), pod("n2", 1)]           # 3 of 4 GPUs requested by others
    diags = check_placement(want, NODES, running, [], strict=False)
    assert lines(diags) == [
        "tenant acme: 1 pod of callbot needs 1 nvidia.com/gpu each, but beside what the cluster "
        "already runs the most free on one node is 0 (node n1; 0 free in total)"]
    assert diags[0].severity is Severity.WARNING
    assert check_placement(want, NODES, running, [], strict=True)[0].severity is Severity.ERROR
    # finished pods hold nothing
    assert check_placement(want, NODES, [pod("n1", 2, phase="Succeeded")], [], strict=False) == []


def test_fits_in_total_but_on_no_node():
    # 1 GPU free on each of two nodes: 2 in total, but a pod needing 2 fits on neither
    diags = check_placement([workload("acme", "callbot", 1, 2)], NODES,
                            [pod("n1", 1), pod("n2", 1)], [], strict=False)
    assert lines(diags) == [
        "tenant acme: 1 pod of callbot needs 2 nvidia.com/gpu each, but beside what the cluster "
        "already runs the most free on one node is 1 (node n1; 2 free in total)"]


def test_a_gpu_type_with_no_matching_node():
    a100 = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"}
    diags = check_placement([workload("acme", "callbot", 1, 1, selector=a100)], NODES, [], [],
                            strict=False)
    assert lines(diags) == ["tenant acme: 1 pod of callbot cannot be placed: no node matches its "
                            "node selector nvidia.com/gpu.product=NVIDIA-A100-SXM4-40GB"]
    # capacity is counted per type: the T4 nodes are full, the A10 node is free
    nodes = [node("t4"), node("a10", labels={"nvidia.com/gpu.product": "NVIDIA-A10"})]
    full = [pod("t4", 2)]
    assert check_placement([workload("acme", "callbot", 2, 1, selector=T4)], nodes, full, [],
                           strict=False)
    assert check_placement([workload("acme", "callbot", 2, 1,
                                     selector={"nvidia.com/gpu.product": "NVIDIA-A10"})],
                           nodes, full, [], strict=False) == []


def test_taints_are_honoured():
    tainted = [node("n1", taints=[{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}])]
    diags = check_placement([workload("acme", "callbot", 1, 1)], tainted, [], [], strict=False)
    assert "no schedulable node takes it" in diags[0].summary


def test_a_plan_that_frees_capacity_for_another_in_the_same_run():
    old = workload("old", "callbot", 4, 1)
    running = [pod(n, 1, ns="ecp-ai-old", labels={"svc": "callbot", "t": "old"})
               for n in ("n1", "n1", "n2", "n2")]
    new = [workload("new", "callbot", 3, 1)]
    assert check_placement(new, NODES, running, [], strict=False)      # old still there
    assert check_placement(new, NODES, running, [old.attributes], strict=False) == []


def test_the_pods_of_a_workload_the_plan_keeps_are_not_counted_twice():
    same = workload("acme", "callbot", 4, 1)
    running = [pod(n, 1, ns="ecp-ai-acme", labels={"svc": "callbot", "t": "acme"})
               for n in ("n1", "n1", "n2", "n2")]
    assert check_placement([same], NODES, running, [], strict=False) == []


def test_mig_slices_are_resources_like_any_other():
    spec = {"containers": [{"resources": {"limits": {"nvidia.com/mig-1g.10gb": "2"}}}]}
    assert pod_requests(spec) == {"nvidia.com/mig-1g.10gb": 2}
