"""Capacity and placement on a real control plane of its own (2 kwok nodes, 2 GPUs each, labelled
nvidia.com/gpu.product=Tesla-T4): the plan counts what the cluster already runs, places pods on
the GPU product their gpuType maps to, and counts what the same plan frees."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.kubernetes_support import KubeCli, unique
from tests.testenv.pytest_kube import private_control_plane

pytestmark = [pytest.mark.integration, pytest.mark.kube]

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata: {name: capacity}
spec:
  providers:
    kubernetes: {}
  monitoring: {dashboardsMode: configmap, alertmanagerMode: kubernetes}
  gpuProducts:
    t4: Tesla-T4
    a100: NVIDIA-A100-SXM4-40GB
"""

OTHERS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: others, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: others}}
  template:
    metadata: {labels: {app: others}}
    spec:
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      containers:
        - name: x
          image: others
          resources: {limits: {nvidia.com/gpu: "1"}}
"""


@pytest.fixture(scope="module")
def gpu_cluster():
    with private_control_plane(nodes=2, install_crds=True,
                               node_capacity={"cpu": "16", "memory": "64Gi", "pods": "110",
                                              "nvidia.com/gpu": "2"}) as cp:
        yield cp


@pytest.fixture
def cli(tmp_path: Path, gpu_cluster):
    k = KubeCli(tmp_path, gpu_cluster)
    (k.spec / "project.yaml").write_text(PROJECT)
    yield k
    k.cleanup()


def _gpu_tenant(cli: KubeCli, name: str, callbot: int, gpu_type: str = "t4") -> Path:
    path = cli.tenant(name, {"callbot": callbot})
    path.write_text(path.read_text().replace("spec:\n", f"spec:\n  gpuType: {gpu_type}\n", 1))
    return path


def _wait_scheduled(cp, namespace: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = cp.kubectl_json("get", "pods", "-n", namespace)["items"]
        if sum(1 for p in pods if p["spec"].get("nodeName")) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"{count} pods of {namespace} were not scheduled")


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Warning: tenant")]


def test_placement_against_what_runs_gpu_types_and_freed_capacity(cli, gpu_cluster):
    a = unique("cap")
    _gpu_tenant(cli, a, 100)                      # callbot: 2 replicas x 1 GPU
    assert _warnings(cli.ok("plan", str(cli.spec)).output) == []      # fits alone: 4 GPUs

    # 3 of the 4 GPUs taken by a workload ecpctl knows nothing of
    others = cli.root / "others.yaml"
    others.write_text(OTHERS)
    gpu_cluster.kubectl("apply", "-f", str(others))
    _wait_scheduled(gpu_cluster, "default", 3)
    out = cli.ok("plan", str(cli.spec)).output
    (warning,) = _warnings(out)
    assert warning.startswith(
        f"Warning: tenant {a}: 1 pod of callbot needs 1 nvidia.com/gpu each, but beside what the "
        "cluster already runs the most free on one node is 0 (node kwok-node-")
    assert warning.endswith("; 0 free in total)")
    r = cli("plan", str(cli.spec), "--strict")
    assert r.exit_code == 1 and f"Error: tenant {a}: 1 pod of callbot needs 1 nvidia.com/gpu" in r.output
    gpu_cluster.kubectl("delete", "-f", str(others), "--wait=true")

    # a GPU type no node has
    _gpu_tenant(cli, a, 100, gpu_type="a100")
    out = cli.ok("plan", str(cli.spec)).output
    assert _warnings(out) == [f"Warning: tenant {a}: 2 pods of callbot cannot be placed: no node "
                              "matches its node selector "
                              "nvidia.com/gpu.product=NVIDIA-A100-SXM4-40GB"]

    # tenant a fills the cluster (4 GPUs); b fits only once a leaves, in the same plan
    _gpu_tenant(cli, a, 200)
    cli.apply("--no-wait")
    dep = cli.get("deployment", "callbot", f"ecp-ai-{a}")
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "Tesla-T4"}
    _wait_scheduled(gpu_cluster, f"ecp-ai-{a}", 4)
    b = unique("cap")
    _gpu_tenant(cli, b, 150)                      # 3 GPUs
    assert len(_warnings(cli.ok("plan", str(cli.spec)).output)) == 1
    cli.remove_tenant(a)
    out = cli.ok("plan", str(cli.spec)).output
    assert _warnings(out) == []
    # give the module's cluster back empty: a's pods hold all 4 GPUs until its namespace goes
    gpu_cluster.kubectl("delete", "namespace", f"ecp-ai-{a}", "--wait=true", "--timeout=120s")
    assert "Plan: " in out and "to destroy" in out


PINNED = """\
apiVersion: v1
kind: Pod
metadata: {{name: pinned-{i}, namespace: default}}
spec:
  nodeName: {node}
  tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]
  containers:
    - name: x
      image: pinned
      resources: {{limits: {{nvidia.com/gpu: "1"}}}}
"""


def test_a_two_gpu_pod_from_an_override_fits_in_total_but_on_no_node(cli, gpu_cluster):
    nodes = [n["metadata"]["name"] for n in gpu_cluster.kubectl_json("get", "nodes")["items"]]
    a = unique("cap")
    path = _gpu_tenant(cli, a, 50)
    path.write_text(path.read_text() + "  serviceOverrides:\n    callbot: {gpusPerReplica: 2}\n")
    assert _warnings(cli.ok("plan", str(cli.spec)).output) == []      # 2 free GPUs on each node
    pinned = cli.root / "pinned.yaml"
    pinned.write_text("---\n".join(PINNED.format(i=i, node=n) for i, n in enumerate(nodes[:2])))
    gpu_cluster.kubectl("apply", "-f", str(pinned))
    try:
        _wait_scheduled(gpu_cluster, "default", 2)
        (warning,) = _warnings(cli.ok("plan", str(cli.spec)).output)     # 1 free on each: 2 total
        assert warning.startswith(f"Warning: tenant {a}: 1 pod of callbot needs 2 nvidia.com/gpu "
                                  "each, but beside what the cluster already runs the most free on "
                                  "one node is 1 (node ")
        assert warning.endswith("; 2 free in total)")
    finally:
        gpu_cluster.kubectl("delete", "-f", str(pinned), "--wait=true")
        cli.remove_tenant(a)
