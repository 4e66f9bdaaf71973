"""Readiness per kind and the one-line reasons taken from pods (status shapes from a real cluster)."""

from __future__ import annotations

import pytest

from providers.kubernetes.ready import _scheduler_message, check, explain_pods, pod_problem


def dep(replicas=2, updated=2, available=2, total=None, generation=3, observed=3):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "callbot", "generation": generation},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated,
                       "availableReplicas": available, "replicas": updated if total is None else total}}


@pytest.mark.parametrize("obj,ready,msg", [
    (dep(), True, "2/2 replicas available"),
    (dep(observed=2), False, "waiting for the deployment controller to see the new generation"),
    (dep(updated=1, available=1), False, "waiting for rollout: 1/2 replicas updated, 1 available"),
    (dep(total=3), False, "waiting for rollout: 1 old replicas pending termination"),
    (dep(available=0), False, "waiting for 0/2 replicas available"),
    ({"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"}}, True, "namespace is Active"),
    ({"apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Terminating"}}, False,
     "namespace is Terminating"),
    ({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
      "status": {"conditions": [{"type": "Established", "status": "True"}]}}, True, "established"),
    ({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "status": {}},
     False, "waiting for the CRD to be established"),
    ({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"generation": 1},
      "status": {"observedGeneration": 1}}, True, "observed"),
    ({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"generation": 2},
      "status": {"observedGeneration": 1}}, False, "waiting for the disruption controller"),
    ({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}, True, "created"),
    ({"apiVersion": "v1", "kind": "ConfigMap"}, True, ""),
])
def test_readiness_per_kind(obj, ready, msg):
    assert check(obj) == (ready, msg)


UNSCHEDULABLE = {
    "metadata": {"name": "callbot-547cbbb669-v68tg", "namespace": "x"},
    "status": {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. no new claims to "
                   "deallocate, preemption: 0/3 nodes are available: 3 No preemption victims "
                   "found for incoming pod."}]}}


def pod(name, **status):
    return {"metadata": {"name": name, "namespace": "x"}, "status": status}


def test_pod_problems():
    assert pod_problem(UNSCHEDULABLE) == "Pending: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    pulling = pod("a", phase="Pending", containerStatuses=[{"name": "c", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}])
    assert pod_problem(pulling) == 'Pending: container c ImagePullBackOff: Back-off pulling image "x"'
    crashing = pod("b", phase="Running", containerStatuses=[{"name": "c", "state": {"terminated": {
        "exitCode": 2, "reason": "Error"}}}])
    assert pod_problem(crashing) == "Running: container c exited with 2 (Error)"
    ok = pod("c", phase="Running", conditions=[{"type": "Ready", "status": "True"}])
    assert pod_problem(ok) is None
    creating = pod("d", phase="Pending", containerStatuses=[{"name": "c", "state": {"waiting": {
        "reason": "ContainerCreating"}}}])
    assert pod_problem(creating) == "Pending"


def test_same_problem_on_many_pods_is_one_line():
    pods = [dict(UNSCHEDULABLE, metadata={"name": n, "namespace": "x"}) for n in ("p-3", "p-1", "p-2")]
    assert explain_pods(None, pods, events=False) == [
        "pod p-1 Pending: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu. (and 2 more pods)"]


def test_scheduler_messages_keep_the_node_summary():
    assert _scheduler_message("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
                              "preemption: 0/1 nodes are available: 1 No preemption victims found.") \
        == "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
    assert _scheduler_message("pod has unbound immediate PersistentVolumeClaims") == \
        "pod has unbound immediate PersistentVolumeClaims"
