"""Apply and wait as separate phases, on a control plane whose pods take 8 s to become ready (kwok's
pod-ready stage delayed, as a readiness probe would): with one parallelism slot, a rollout being
waited on does not keep the other tenants' writes queued, each resource is still reported and
recorded only once it is ready, and a wait that times out leaves it out of state for the next
apply to finish. Checked with kubectl, not only through ecpctl."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.kubernetes_support import KubeCli, addr, ns, unique
from tests.testenv.kube import ControlPlane
from tests.testenv.pytest_kube import private_control_plane

pytestmark = [pytest.mark.integration, pytest.mark.kube]

READY_DELAY = 8.0


@pytest.fixture(scope="module")
def slow_pods() -> Iterator[ControlPlane]:
    with private_control_plane(nodes=2, install_crds=True, pod_ready_delay=READY_DELAY) as cp:
        yield cp


def _lines(output: str, pattern: str) -> list[int]:
    return [i for i, line in enumerate(output.splitlines()) if re.search(pattern, line)]


def _state_addresses(k: KubeCli) -> set[str]:
    r = k.ok("state", "list", "--json")
    return {row["address"] for row in json.loads(r.stdout)["resources"]}


def test_one_slot_writes_other_tenants_while_a_rollout_is_waited_on(slow_pods, tmp_path: Path):
    k = KubeCli(tmp_path, slow_pods)
    a, b = unique("wa"), unique("wb")
    for t in (a, b):
        k.tenant(t, {"chatbot": 10}, receivers=False)
    r = k.ok("apply", str(k.spec), "--auto-approve", "--parallelism", "1")
    out = r.output
    a_deploy, b_deploy = (addr(t, "apps/v1.Deployment", "chatbot") for t in (a, b))
    # b's Deployment was written while a's rollout was still being waited on ...
    a_done = _lines(out, re.escape(a_deploy) + r": Creation complete")
    b_started = _lines(out, re.escape(b_deploy) + r": Creating")
    assert a_done and b_started, out
    assert b_started[0] < a_done[0], out
    # ... and each was still reported only once it was ready (the pods' 8 s included)
    for d in (a_deploy, b_deploy):
        took = re.search(re.escape(d) + r": Creation complete after ([0-9.]+)s", out)
        assert took and float(took.group(1)) >= READY_DELAY, out
    # independently: both rollouts are ready, and both tenants' objects are recorded
    for t in (a, b):
        dep = k.get("deployment", "chatbot", ns(t))
        assert dep["status"].get("availableReplicas") == dep["spec"]["replicas"]
    assert {a_deploy, b_deploy} <= _state_addresses(k)
    assert "No changes." in k.ok("plan", str(k.spec)).output

    # the destroy waits for each object to be gone, with the same single slot
    r = k.ok("destroy", str(k.spec), "--auto-approve", "--parallelism", "1")
    assert "Destroy complete!" in r.output
    for t in (a, b):
        assert not k.exists("namespace", ns(t))


def test_a_wait_that_times_out_is_not_recorded_and_the_next_apply_finishes_it(slow_pods, tmp_path: Path):
    k = KubeCli(tmp_path, slow_pods)
    t = unique("wt")
    k.tenant(t, {"chatbot": 10}, receivers=False)
    deploy = addr(t, "apps/v1.Deployment", "chatbot")
    r = k("apply", str(k.spec), "--auto-approve", "--wait-timeout", "2")
    assert r.exit_code == 1, r.output
    line = next(ln for ln in r.output.splitlines() if ln.startswith("Error:") and deploy in ln)
    assert "timed out after 2s waiting for Deployment chatbot" in line
    assert "Traceback" not in r.output
    # the Deployment exists (it was written) but is not in state: not reported as done
    assert k.exists("deployment", "chatbot", ns(t))
    held = _state_addresses(k)
    assert deploy not in held
    assert addr(t, "v1.Namespace", ns(t)) in held

    # the pods become ready; the next apply takes the Deployment over and records it
    r = k.ok("apply", str(k.spec), "--auto-approve")
    assert deploy in _state_addresses(k)
    dep = k.get("deployment", "chatbot", ns(t))
    assert dep["status"].get("availableReplicas") == dep["spec"]["replicas"]
    assert "No changes." in k.ok("plan", str(k.spec)).output
    k.ok("destroy", str(k.spec), "--auto-approve", "--no-wait")


def _deployment(namespace: str, name: str, tenant: str, **spec) -> dict:
    labels = {"app.kubernetes.io/managed-by": "ecpctl", "ecp.ai/tenant": tenant, "app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                           **spec}}}}


def test_deferred_waits_of_one_kind_poll_with_lists_and_settle_once_ready(slow_pods):
    from ecpctl.kernel import Address, ProviderError, Resource
    from providers.kubernetes import KubernetesProvider
    from providers.protocol import ApplyRequest, ConfigureRequest, DeleteRequest

    t = unique("wl")
    namespace = ns(t)
    slow_pods.kubectl("create", "namespace", namespace)
    p = KubernetesProvider()
    assert not p.configure(ConfigureRequest(settings={}, options={
        "kubeconfig": str(slow_pods.kubeconfig), "timeout": "60s"})).diagnostics
    try:
        def res(obj: dict) -> Resource:
            return Resource(addr=Address(t, "kubernetes", "apps/v1.Deployment", obj["metadata"]["name"]),
                            attributes=obj)
        names = ["one", "two", "three"]
        before = p.client.counts()
        answers = [p.apply(ApplyRequest(desired=res(_deployment(namespace, n, t)), prior=None,
                                        live=None, defer_wait=True)) for n in names]
        # the writes returned before the pods were ready: the readiness is still to come
        assert all(a.pending is not None and not a.pending.done for a in answers)
        for a in answers:
            a.pending.wait()
        for n in names:
            dep = slow_pods.kubectl_json("get", "deployment", n, "-n", namespace)
            assert dep["status"].get("availableReplicas") == 1
        counts = p.client.counts()
        polls = {v: counts.get(v, 0) - before.get(v, 0) for v in ("get", "list")}
        # three Deployments of one tenant waited on together: a LIST per round once all three were
        # handed over (a GET only in a round before that, with one of them waiting alone)
        assert polls["get"] <= 3 and polls["list"] >= 3, polls

        # a Deployment that cannot become ready settles with the reason, as a blocking wait does
        p.timeout = 5.0
        stuck = p.apply(ApplyRequest(desired=res(_deployment(namespace, "stuck", t,
                                                             nodeSelector={"nowhere": "x"})),
                                     prior=None, live=None, defer_wait=True))
        with pytest.raises(ProviderError) as err:
            stuck.pending.wait()
        assert "timed out after 5s waiting for Deployment stuck" in str(err.value)
        assert "didn't match Pod's node affinity/selector" in str(err.value)

        # the deletions' waits settle once the objects are gone
        p.timeout = 60.0
        states = [a.state for a in answers]
        gone = [p.delete(DeleteRequest(prior=s, defer_wait=True)).pending for s in states]
        for g in gone:
            g.wait()
        for n in names:
            assert not slow_pods.kubectl("get", "deployment", n, "-n", namespace, "--ignore-not-found",
                                         "-o", "name").stdout.strip()
    finally:
        p.close()
        slow_pods.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_ctrl_c_ends_the_waits_at_once_and_leaves_them_to_the_next_apply(slow_pods, tmp_path: Path):
    import os
    import signal
    import subprocess
    import sys

    k = KubeCli(tmp_path, slow_pods)
    t = unique("wi")
    k.tenant(t, {"chatbot": 10}, receivers=False)
    deploy = addr(t, "apps/v1.Deployment", "chatbot")
    env = {key: v for key, v in os.environ.items() if not key.startswith("ECPCTL_")}
    env.update({"KUBECONFIG": str(k.kubeconfig), "NO_COLOR": "1", "COLUMNS": "200",
                "PYTHONUNBUFFERED": "1"})
    proc = subprocess.Popen([sys.executable, "-m", "ecpctl", "--data-dir", str(k.data_dir), "apply",
                             str(k.spec), "--auto-approve"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(f"{deploy}: waiting for"):
            break
    else:
        raise AssertionError("".join(seen))
    proc.send_signal(signal.SIGINT)
    out = "".join(seen) + proc.stdout.read()
    assert proc.wait(timeout=60) == 130, out
    # it ended before the pods were ready: the wait ended at the interrupt, not at readiness
    dep = k.get("deployment", "chatbot", ns(t))
    assert dep["status"].get("availableReplicas", 0) < dep["spec"]["replicas"], out
    assert f"Interrupted: {deploy}: its wait was cut short" in out
    assert f"Error: {deploy}" not in out
    assert "Traceback" not in out
    assert deploy not in _state_addresses(k)

    # the next apply takes the written Deployment over and waits for it
    r = k.ok("apply", str(k.spec), "--auto-approve")
    assert f"{deploy}: Creation complete" in r.output
    dep = k.get("deployment", "chatbot", ns(t))
    assert dep["status"].get("availableReplicas") == dep["spec"]["replicas"]
    assert deploy in _state_addresses(k)
    k.ok("destroy", str(k.spec), "--auto-approve", "--no-wait")
