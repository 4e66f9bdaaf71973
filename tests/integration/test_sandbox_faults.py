"""The sandbox's failure scenarios beyond the end-to-end test's two, on a real sandbox, each checked
where a user would look: `error_burst` and `latency` in the simulator's series and the alerts they
fire, `gpu_loss` in the node's allocatable GPUs and ServiceDown, `node_down` in the node's
condition and taint, the real node controller's eviction and the real scheduler's placement of
the replacements; and each undone by `--clear`."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest

from tests.integration.sandbox_support import Sandbox, firing, until

# the timeout includes a first build of the control-plane binaries
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

T = "gamma"
TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata: {name: gamma}
spec:
  preset: medium
  services: {chatbot: 10, callbot: 10}
  sla: {availability: "99.5%", responseTime: 200ms}
  database: {enabled: false}
  autoscaling: {enabled: false}
"""


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    sb = Sandbox(tmp_path_factory.mktemp("faults"))
    try:
        sb.up()
        sb.specs.mkdir()
        (sb.specs / "project.yaml").write_text((sb.dir / "project.yaml").read_text())
        (sb.specs / "gamma.yaml").write_text(TENANT)
        sb.ecpctl("--data-dir", str(sb.data), "apply", str(sb.specs), "--auto-approve",
                  "--wait-timeout", "120")
        yield sb
    finally:
        sb.ecpctl("sandbox", "down", "--dir", str(sb.dir), check=False)


def kubectl_json(sb: Sandbox, *args: str) -> dict[str, Any]:
    out = subprocess.run(["kubectl", *args, "-o", "json"], capture_output=True, text=True,
                         timeout=60, env=sb.env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def query(sb: Sandbox, expr: str) -> float | None:
    r = httpx.get(f"{sb.rec['prometheus_url']}/api/v1/query", params={"query": expr},
                  timeout=10).json()["data"]["result"]
    return float(r[0]["value"][1]) if r else None


def pods(sb: Sandbox) -> list[dict[str, Any]]:
    return [p for p in kubectl_json(sb, "get", "pods", "-n", f"ecp-ai-{T}")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod["status"].get("conditions") or [])


def node_of(out: str) -> str:
    return out.split(", node ", 1)[1].split(".", 1)[0].split(",", 1)[0]


def healthy(sb: Sandbox) -> None:
    sb.ecpctl("status", "--path", str(sb.specs), "--wait", "--wait-timeout", "2m")


def test_error_burst_answers_30_percent_500_and_pages(sb):
    healthy(sb)
    until("traffic", lambda: query(sb, f'sum(rate(ecp_requests_total{{tenant_id="{T}"}}[10s]))'),
          120)
    sb.ecpctl("sandbox", "fault", T, "error_burst", "--service", "chatbot", "--dir", str(sb.dir))
    share = (f'sum(rate(ecp_requests_total{{tenant_id="{T}",service="chatbot",code="500"}}[10s]))'
             f' / sum(rate(ecp_requests_total{{tenant_id="{T}",service="chatbot"}}[10s]))')
    until("30% of chatbot's answers to be 500", lambda: 0.25 < (query(sb, share) or 0) < 0.35, 60)
    assert not query(sb, f'sum(rate(ecp_requests_total{{tenant_id="{T}",service="callbot",'
                         f'code=~"5.."}}[10s]))')
    until("the burn-rate page",
          lambda: firing(sb.prom_alerts(), T, "ErrorBudgetBurn", slo_alert="page"), 120)
    sb.ecpctl("sandbox", "fault", "--clear", "--dir", str(sb.dir))
    until("no more 500s", lambda: not query(sb, share), 60)


def test_latency_fires_latency_above_sla(sb):
    p95 = (f'histogram_quantile(0.95, sum by (le) (rate(ecp_request_duration_seconds_bucket'
           f'{{tenant_id="{T}",service="chatbot"}}[10s])))')
    assert (query(sb, p95) or 1) <= 0.2
    sb.ecpctl("sandbox", "fault", T, "latency", "--service", "chatbot", "--dir", str(sb.dir))
    until("p95 above the 200ms SLA", lambda: (query(sb, p95) or 0) > 0.4, 60)
    until("LatencyAboveSLA", lambda: firing(sb.prom_alerts(), T, "LatencyAboveSLA",
                                            service="chatbot"), 120)
    assert not firing(sb.prom_alerts(), T, "LatencyAboveSLA", service="callbot")
    sb.ecpctl("sandbox", "fault", "--clear", "--dir", str(sb.dir))
    until("LatencyAboveSLA to resolve",
          lambda: not firing(sb.prom_alerts(), T, "LatencyAboveSLA"), 120)


def test_gpu_services_run_on_nodes_of_their_gpu_type(sb):
    """The sandbox's Project maps gpuType t4 to the product label of its nodes: the GPU service
    carries that node selector and the real scheduler put it on such a node; chatbot has none."""
    healthy(sb)
    label = "nvidia.com/gpu.product"
    by_service: dict[str, list[dict[str, Any]]] = {}
    for p in pods(sb):
        by_service.setdefault(p["metadata"]["labels"].get("ecp.ai/service"), []).append(p)
    assert by_service["callbot"] and by_service["chatbot"]
    for p in by_service["callbot"]:
        assert p["spec"]["nodeSelector"][label] == "Tesla-T4"
        node = kubectl_json(sb, "get", "node", p["spec"]["nodeName"])
        assert node["metadata"]["labels"][label] == "Tesla-T4"
    assert all(label not in (p["spec"].get("nodeSelector") or {}) for p in by_service["chatbot"])


def test_gpu_loss_takes_the_nodes_gpus_and_the_gpu_service_down(sb):
    healthy(sb)
    out = sb.ecpctl("sandbox", "fault", T, "gpu_loss", "--dir", str(sb.dir)).stdout
    node = node_of(out)
    callbot = [p for p in pods(sb) if p["metadata"]["labels"].get("ecp.ai/service") == "callbot"]
    assert {p["spec"]["nodeName"] for p in callbot} == {node}

    def gpus() -> str:
        return kubectl_json(sb, "get", "node", node)["status"]["allocatable"]["nvidia.com/gpu"]
    until("0 allocatable GPUs", lambda: gpus() == "0", 60)
    until("the callbot pod not Ready", lambda: not any(
        ready(p) for p in pods(sb) if p["metadata"]["labels"].get("ecp.ai/service") == "callbot"),
        60)
    until("ServiceDown for callbot",
          lambda: firing(sb.prom_alerts(), T, "ServiceDown", service="callbot"), 120)
    assert not firing(sb.prom_alerts(), T, "ServiceDown", service="chatbot")

    sb.ecpctl("sandbox", "fault", "--clear", "--dir", str(sb.dir))
    until("the GPUs back", lambda: gpus() == "2", 60)
    healthy(sb)
    until("ServiceDown to resolve", lambda: not firing(sb.prom_alerts(), T, "ServiceDown"), 120)


def test_node_down_is_evicted_by_the_node_controller_and_rescheduled(sb):
    healthy(sb)
    before = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods(sb)}
    out = sb.ecpctl("sandbox", "fault", T, "node_down", "--dir", str(sb.dir)).stdout
    node = node_of(out)
    assert node in before.values()

    def node_state() -> tuple[str | None, set[str]]:
        n = kubectl_json(sb, "get", "node", node)
        cond = next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
        return cond, {f"{t['key']}:{t['effect']}" for t in n["spec"].get("taints") or []}
    until("the node NotReady and tainted by the node controller",
          lambda: node_state() == ("False", {"node.kubernetes.io/not-ready:NoExecute",
                                             "node.kubernetes.io/not-ready:NoSchedule"}), 60)

    def moved() -> bool:
        now = pods(sb)
        return (len(now) == len(before) and all(ready(p) for p in now)
                and all(p["spec"]["nodeName"] != node for p in now))
    until("the pods evicted (30 s toleration) and Ready on other nodes", moved, 150)
    evicted = {name for name, n in before.items() if n == node}
    assert evicted and not evicted & {p["metadata"]["name"] for p in pods(sb)}

    sb.ecpctl("sandbox", "fault", "--clear", "--dir", str(sb.dir))
    until("the node Ready again, untainted", lambda: node_state() == ("True", set()), 60)
    healthy(sb)
