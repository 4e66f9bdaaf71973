"""The test control plane itself: real kube-apiserver, scheduler, controllers and kwok nodes."""

from __future__ import annotations

import json
import time

import pytest

from tests.testenv import build
from tests.testenv.kube import CRD_NAMES, ControlPlane, ControlPlaneError

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def _wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def test_server_and_kubectl_report_the_stamped_version(control_plane: ControlPlane):
    status, body = control_plane.get("/version")
    assert status == 200
    server = json.loads(body)
    assert server["gitVersion"] == build.KUBERNETES_VERSION
    assert server["major"] == "1"
    assert server["minor"] == build.KUBERNETES_VERSION.split(".")[1]

    out = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert out["clientVersion"]["gitVersion"] == build.KUBERNETES_VERSION
    assert out["serverVersion"]["gitVersion"] == build.KUBERNETES_VERSION


def test_fake_nodes_are_ready_with_gpu_capacity(control_plane: ControlPlane):
    nodes = control_plane.kubectl_json("get", "nodes")["items"]
    assert len(nodes) == 3
    for node in nodes:
        conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conds["Ready"] == "True"
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == "2"
        assert node["status"]["allocatable"]["cpu"] == "16"
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"


def test_deployment_is_scheduled_on_fake_nodes_and_becomes_available(control_plane: ControlPlane, namespace: str):
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "registry.invalid/web:1",
                            "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}},
                        }
                    ]
                },
            },
        },
    }
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(deployment))

    def available():
        d = control_plane.kubectl_json("get", "deployment", "web", "-n", namespace)
        st = d.get("status", {})
        conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
        return st.get("readyReplicas") == 2 and conds.get("Available") == "True" and d

    d = _wait_for(available, 90, "deployment web to become Available")
    assert d["status"]["readyReplicas"] == d["spec"]["replicas"] == 2

    pods = control_plane.kubectl_json("get", "pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        assert pod["status"]["phase"] == "Running"


def test_pod_needing_more_gpus_than_any_node_stays_pending(control_plane: ControlPlane, namespace: str):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "gpu-hog", "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": "train",
                    "image": "registry.invalid/train:1",
                    "resources": {"limits": {"nvidia.com/gpu": "3"}},
                }
            ]
        },
    }
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(pod))

    def failed_scheduling():
        events = control_plane.kubectl_json(
            "get", "events", "-n", namespace,
            "--field-selector", "involvedObject.name=gpu-hog,reason=FailedScheduling",
        )["items"]
        return [e["message"] for e in events if "Insufficient nvidia.com/gpu" in e.get("message", "")]

    messages = _wait_for(failed_scheduling, 60, "a FailedScheduling event for gpu-hog")
    assert "Insufficient nvidia.com/gpu" in messages[0]
    got = control_plane.kubectl_json("get", "pod", "gpu-hog", "-n", namespace)
    assert got["status"]["phase"] == "Pending"
    assert not got["spec"].get("nodeName")


def test_prometheus_operator_crds_are_established(control_plane: ControlPlane, namespace: str):
    for name in CRD_NAMES:
        crd = control_plane.kubectl_json("get", "crd", name)
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conds["Established"] == "True", name
        assert crd["spec"]["group"] == "monitoring.coreos.com"
        assert crd["spec"]["scope"] == "Namespaced"
    versions = {
        control_plane.kubectl_json("get", "crd", n)["spec"]["names"]["kind"]: [
            v["name"] for v in control_plane.kubectl_json("get", "crd", n)["spec"]["versions"]
        ]
        for n in CRD_NAMES
    }
    assert versions == {"ServiceMonitor": ["v1"], "PrometheusRule": ["v1"], "AlertmanagerConfig": ["v1alpha1"]}

    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "tenant-alerts", "namespace": namespace},
        "spec": {"groups": [{"name": "tenant", "rules": [{"alert": "Down", "expr": "up == 0", "for": "5m"}]}]},
    }
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(rule))
    # The schema is enforced: a rule without expr is rejected by the API server.
    bad = json.loads(json.dumps(rule))
    bad["metadata"]["name"] = "broken"
    del bad["spec"]["groups"][0]["rules"][0]["expr"]
    res = control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(bad), check=False)
    assert res.returncode != 0
    assert "expr" in res.stderr and "Required value" in res.stderr

    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "tenant", "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "endpoints": [{"port": "metrics", "interval": "30s"}]},
    }
    amcfg = {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": "tenant", "namespace": namespace},
        "spec": {
            "route": {"receiver": "hook", "groupBy": ["alertname"], "matchers": [{"name": "team", "value": "a"}]},
            "receivers": [{"name": "hook", "webhookConfigs": [{"url": "http://127.0.0.1:9/hook"}]}],
        },
    }
    for obj in (monitor, amcfg):
        control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj))
    assert control_plane.kubectl("get", "servicemonitor,alertmanagerconfig", "-n", namespace, "-o", "name").stdout.split() == [
        "servicemonitor.monitoring.coreos.com/tenant",
        "alertmanagerconfig.monitoring.coreos.com/tenant",
    ]


def test_server_side_apply_tracks_field_managers_and_conflicts(control_plane: ControlPlane, namespace: str):
    def cm(data):
        return json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": namespace}, "data": data}
        )

    control_plane.kubectl("apply", "--server-side", "--field-manager=ecpctl", "-f", "-", input=cm({"a": "1"}))
    control_plane.kubectl("apply", "--server-side", "--field-manager=ecpctl", "-f", "-", input=cm({"a": "2", "b": "x"}))
    got = control_plane.kubectl_json("get", "configmap", "settings", "-n", namespace, "--show-managed-fields")
    assert got["data"] == {"a": "2", "b": "x"}
    managers = {(m["manager"], m["operation"]) for m in got["metadata"]["managedFields"]}
    assert ("ecpctl", "Apply") in managers

    res = control_plane.kubectl(
        "apply", "--server-side", "--field-manager=someone-else", "-f", "-", input=cm({"a": "3"}), check=False
    )
    assert res.returncode != 0
    assert "conflict" in res.stderr.lower()
    assert control_plane.kubectl_json("get", "configmap", "settings", "-n", namespace)["data"]["a"] == "2"


def test_api_server_can_be_stopped_and_restarted(isolated_control_plane: ControlPlane):
    cp = isolated_control_plane
    cp.kubectl("create", "configmap", "before", "-n", "default", "--from-literal=k=v")
    cp.stop_apiserver()
    assert not cp.apiserver_running()
    res = cp.kubectl("get", "configmap", "before", "-n", "default", "--request-timeout=2s", check=False)
    assert res.returncode != 0
    cp.start_apiserver(["--max-requests-inflight=50"])
    assert cp.apiserver_running()
    # Data lives in etcd and survives the restart; the new flags are in effect.
    assert cp.kubectl_json("get", "configmap", "before", "-n", "default")["data"] == {"k": "v"}
    assert "--max-requests-inflight=50" in (cp.log_path("kube-apiserver").read_text())
    cp.restart_apiserver()
    assert cp.kubectl("get", "nodes", "-o", "name").stdout.split() == ["node/kwok-node-0"]


def test_start_failure_reports_the_failing_component_log(control_plane: ControlPlane):
    # (control_plane: the binaries are built and ECPCTL_SKIP_KUBE is honoured)
    cp = ControlPlane(nodes=0, apiserver_args=["--no-such-flag=1"], build_if_missing=False, start_timeout=60)
    with pytest.raises(ControlPlaneError) as err:
        cp.start()
    msg = str(err.value)
    assert "kube-apiserver exited" in msg
    assert "no-such-flag" in msg
    assert not cp.pids()
