"""The sandbox's workload model (ecpctl/sandbox/simulator/model.py) and what it exports
(exposition.py): load from sessions, shared by the Ready pods, 503 with none Ready, overload
raising latency and errors, and the faults' effects."""

from __future__ import annotations

import dataclasses

import pytest

from ecpctl.sandbox.simulator.exposition import render
from ecpctl.sandbox.simulator.model import (
    BUCKETS,
    ERROR_BURST_SHARE,
    RPS_PER_SESSION,
    Effects,
    Pod,
    Simulation,
    Workload,
)


def pod(i: int, ready: bool = True, gpus: int = 0) -> Pod:
    return Pod(name=f"chatbot-{i}", uid=f"uid-{i:04d}-x", node=f"node-{i}", ready=ready,
               running=True, container="chatbot", image="ecp/chatbot:1", cpu_limit=2.0,
               memory_limit=4 * 2**30, gpus=gpus)


def workload(sessions: int = 100, replicas: int = 2, ready: int = 2, pods: int | None = None,
             gpus: int = 0, sla: float = 0.2) -> Workload:
    n = replicas if pods is None else pods
    return Workload(tenant="acme", namespace="ecp-ai-acme", service="chatbot", sessions=sessions,
                    replicas=replicas, available=ready, sla_seconds=sla,
                    pods=tuple(pod(i, ready=i < ready, gpus=gpus) for i in range(n)))


def run(w: Workload, seconds: float = 10.0, fx: Effects | None = None) -> Simulation:
    sim = Simulation()
    sim.tick([w], {("acme", "chatbot"): fx} if fx else {}, seconds)
    return sim


def codes(sim: Simulation) -> dict[str, float]:
    return {k[3]: v for k, v in sim.requests.items()}


def p95(sim: Simulation) -> float:
    """The smallest bucket bound holding 95% of the requests (what histogram_quantile reads)."""
    h = sim.latency[("acme", "ecp-ai-acme", "chatbot")]
    return next(b for b, n in zip(BUCKETS, h.buckets) if n >= 0.95 * h.count)


def test_load_comes_from_the_sessions():
    sim = run(workload(sessions=100), seconds=10)
    assert sum(codes(sim).values()) == pytest.approx(100 * RPS_PER_SESSION * 10)
    sim = run(workload(sessions=300), seconds=10)
    assert sum(codes(sim).values()) == pytest.approx(300 * RPS_PER_SESSION * 10)


def test_a_healthy_service_answers_everything_within_its_sla():
    sim = run(workload())
    assert set(codes(sim)) == {"200"}
    assert p95(sim) <= 0.2
    assert sim.utilisation[("acme", "chatbot")] == pytest.approx(1 / 1.5)


def test_each_ready_pod_serves_its_share():
    full, half = run(workload(replicas=4, ready=4)), run(workload(replicas=4, ready=2))
    # half the Ready pods: each carries twice the load, and burns more CPU for it
    assert half.utilisation[("acme", "chatbot")] == pytest.approx(
        2 * full.utilisation[("acme", "chatbot")])
    ready_cpu = half.usage[("ecp-ai-acme", "chatbot-0", "chatbot")].cpu_seconds
    assert ready_cpu > full.usage[("ecp-ai-acme", "chatbot-0", "chatbot")].cpu_seconds
    # a pod that is not Ready takes no traffic and idles
    assert half.usage[("ecp-ai-acme", "chatbot-3", "chatbot")].cpu_seconds < 0.05 * ready_cpu


def test_no_ready_pod_means_every_request_is_a_503():
    sim = run(workload(ready=0), seconds=5)
    assert codes(sim) == {"503": pytest.approx(100 * RPS_PER_SESSION * 5)}
    assert ("acme", "ecp-ai-acme", "chatbot") not in sim.latency


def test_no_pod_at_all_is_also_a_503():
    sim = run(workload(ready=0, pods=0), seconds=5)
    assert set(codes(sim)) == {"503"}


def test_a_service_never_launched_gets_no_traffic_until_it_is_up():
    fresh = dataclasses.replace(workload(ready=0), rolled_out=False)
    sim = Simulation()
    sim.tick([fresh], {}, 5.0)
    sim.tick([dataclasses.replace(workload(ready=1), rolled_out=False)], {}, 5.0)
    assert sim.requests == {}
    sim.tick([workload()], {}, 5.0)                # its first rollout is done
    sim.tick([fresh], {}, 5.0)                     # and crashes: now its callers get 503s
    assert codes(sim)["503"] == pytest.approx(100 * RPS_PER_SESSION * 5)


def test_overload_raises_latency_and_refuses_the_excess():
    ok = run(workload(replicas=3, ready=3))
    over = run(workload(replicas=3, ready=1))      # one pod for three pods' load: u = 2
    assert over.utilisation[("acme", "chatbot")] == pytest.approx(2.0)
    c = codes(over)
    assert c["503"] / sum(c.values()) == pytest.approx(0.5)
    assert p95(over) > 0.2 >= p95(ok)


def test_error_burst_fails_a_share_with_500():
    c = codes(run(workload(), fx=Effects(error_burst=True)))
    assert c["500"] / (c["500"] + c["200"]) == pytest.approx(ERROR_BURST_SHARE)


def test_latency_fault_pushes_p95_above_the_sla():
    assert p95(run(workload(), fx=Effects(latency=True))) > 0.2
    assert set(codes(run(workload(), fx=Effects(latency=True)))) == {"200"}


def test_cpu_spike_uses_nearly_the_whole_limit():
    sim = run(workload(), seconds=10, fx=Effects(cpu_spike=True))
    use = sim.usage[("ecp-ai-acme", "chatbot-0", "chatbot")]
    assert use.cpu_seconds / (2.0 * 10) > 0.9


def test_counters_only_grow_and_gone_pods_stop_being_exported():
    sim = Simulation()
    sim.tick([workload()], {}, 1.0)
    first = dict(sim.requests)
    sim.tick([workload(ready=0)], {}, 1.0)
    assert all(sim.requests[k] >= v for k, v in first.items())
    sim.tick([workload(replicas=1, ready=1)], {}, 1.0)
    assert ("ecp-ai-acme", "chatbot-1", "chatbot") not in sim.usage


def test_gpu_utilisation_only_for_ready_gpu_pods():
    sim = run(workload(ready=1, gpus=1))
    assert sim.usage[("ecp-ai-acme", "chatbot-0", "chatbot")].gpu_util > 0
    assert sim.usage[("ecp-ai-acme", "chatbot-1", "chatbot")].gpu_util == 0


def test_exposition_uses_the_exporters_names_and_labels():
    w = workload(ready=1, gpus=1)
    sim = run(w)
    text = render(sim, [w])
    assert ('ecp_requests_total{job="chatbot",namespace="ecp-ai-acme",service="chatbot",'
            'tenant_id="acme",code="200"}') in text
    assert 'ecp_request_duration_seconds_bucket{' in text and 'le="+Inf"} ' in text
    assert ('kube_deployment_status_replicas_available{job="kube-state-metrics",'
            'namespace="ecp-ai-acme",deployment="chatbot"} 1') in text
    assert 'container_cpu_usage_seconds_total{job="kubelet",metrics_path="/metrics/cadvisor",' \
        in text
    assert 'resource="nvidia_com_gpu",unit="integer"} 1' in text
    # dcgm-exporter reports only the GPUs of a running, Ready pod
    assert text.count("DCGM_FI_DEV_GPU_UTIL{") == 1
    for line in text.splitlines():
        assert line.startswith("#") or float(line.rsplit(" ", 1)[1]) >= 0, line
