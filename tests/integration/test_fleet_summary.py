"""`ecpctl tenants --summary` on the real servers: the registry kept in a Postgres state backend
after applies to the real API server, the quotas against its kwok nodes' allocatable, and the
utilisation a real Prometheus computes with ecpctl's own recording rules from exporter series."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ecpctl.expand.service_rules import usage_group
from ecpctl.kernel.quantity import parse_cpu
from ecpctl.sandbox.prometheus import PrometheusServer
from tests.integration.kubernetes_support import kube_cli, ns, unique  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]


def summary(kube_cli, *args: str, env: dict | None = None) -> dict:
    r = kube_cli("tenants", "--summary", "--json", "-p", str(kube_cli.spec), *args, env=env)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_summary_counts_quotas_and_allocatable_with_state_in_postgres(
        kube_cli, postgres_state_url, tmp_path):
    env = {"ECPCTL_STATE_URL": postgres_state_url}
    small, big = unique("fleet-s"), unique("fleet-b")
    kube_cli.tenant(small, {"chatbot": 5}, preset="small")
    kube_cli.tenant(big, {"chatbot": 20, "callbot": 10})
    kube_cli.ok("apply", str(kube_cli.spec), "--auto-approve", env=env)
    listed = json.loads(kube_cli.ok("tenants", "--json", env=env).stdout)["tenants"]
    got = summary(kube_cli, env=env)
    assert got["totals"]["all"] == 2 and got["totals"]["running"] == 2
    assert got["totals"]["pending"] == 0 and got["totals"]["failed"] == 0
    assert sum(got["by_preset"].values()) == 2 and got["by_preset"]["small"] >= 1
    assert parse_cpu(got["quota"]["cpu"]) == sum(parse_cpu(t["cpu_limit"]) for t in listed)
    assert got["quota"]["gpu"] == sum(t["gpu_limit"] for t in listed)
    nodes = [n for n in kube_cli.cp.kubectl_json("get", "nodes")["items"]
             if not n["spec"].get("unschedulable")]
    cluster = got["cluster"]
    assert cluster["reachable"] is True and cluster["nodes"] == len(nodes)
    assert parse_cpu(cluster["allocatable"]["cpu"]) == sum(
        parse_cpu(n["status"]["allocatable"]["cpu"]) for n in nodes)
    assert cluster["quota_percent"]["cpu"] == pytest.approx(
        100 * parse_cpu(got["quota"]["cpu"]) / parse_cpu(cluster["allocatable"]["cpu"]))
    assert got["utilisation"]["prometheus"] is None
    # human view: one line of totals, the quota table, and why there is no utilisation
    r = kube_cli("tenants", "--summary", "-p", str(kube_cli.spec), env=env)
    assert r.exit_code == 0, r.output
    assert "Tenants in workspace default: 2 (running 2, pending 0, failed 0, demo 0)" in r.output
    assert f"Quotas against the cluster ({len(nodes)} schedulable nodes):" in r.output
    assert "Utilisation: no Prometheus configured" in r.output


def test_an_unreachable_cluster_or_prometheus_is_said_and_is_no_failure(kube_cli, tmp_path):
    bogus = tmp_path / "kubeconfig"
    bogus.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        "users": [{"name": "x", "user": {"token": "not-a-real-token"}}]}))
    got = summary(kube_cli, "--kubeconfig", str(bogus), "--prometheus-url", "http://127.0.0.1:1")
    assert got["ok"] is True and got["totals"]["all"] == 0
    assert got["cluster"]["reachable"] is False
    assert got["cluster"]["reason"].startswith("cluster not reachable: ")
    assert got["utilisation"]["reason"].startswith("Prometheus not reachable: ")
    assert "not-a-real-token" not in json.dumps(got)
    assert not kube_cli.data_dir.exists()          # read-only: no state was created


class _Exporter(BaseHTTPRequestHandler):
    """What cAdvisor, kube-state-metrics and dcgm-exporter publish for one tenant's service."""

    namespace = ""
    started = time.time()

    def do_GET(self):  # noqa: N802 (http.server's name)
        ns_, c = self.namespace, 'container="chatbot"'
        seconds = 0.5 * (time.time() - self.started)       # half a core, as a counter
        body = "\n".join([
            f'container_cpu_usage_seconds_total{{namespace="{ns_}",{c}}} {seconds}',
            f'container_memory_working_set_bytes{{namespace="{ns_}",{c}}} {2 ** 30}',
            f'kube_pod_container_resource_limits{{namespace="{ns_}",{c},resource="cpu"}} 2',
            f'kube_pod_container_resource_limits{{namespace="{ns_}",{c},resource="memory"}} '
            f"{4 * 2 ** 30}",
            f'DCGM_FI_DEV_GPU_UTIL{{namespace="{ns_}",{c}}} 40', ""]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_utilisation_per_tenant_from_a_real_prometheus_with_ecpctls_rules(
        kube_cli, promtool, tmp_path):
    tid = unique("fleet-u")
    kube_cli.tenant(tid, {"chatbot": 5})
    kube_cli.apply()
    _Exporter.namespace = ns(tid)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with PrometheusServer(tmp_path / "prom",
                              scrape_targets={"exporter": f"127.0.0.1:{server.server_port}"},
                              interval="1s") as prom:
            group = usage_group(tid, ns(tid), ["chatbot"])
            (prom.rules_dir / "usage.yml").write_text(json.dumps({"groups": [group]}))
            httpx.post(f"{prom.url}/-/reload", timeout=10).raise_for_status()
            deadline = time.monotonic() + 60
            while True:
                got = summary(kube_cli, "--prometheus-url", prom.url)
                row = got["utilisation"]["tenants"][tid]
                if all(row[k] is not None for k in ("cpu", "memory", "gpu")):
                    break
                assert time.monotonic() < deadline, f"no usage series after 60s: {got}"
                time.sleep(1)
    finally:
        server.shutdown()
    assert got["utilisation"]["prometheus"] == prom.url and got["utilisation"]["reason"] is None
    assert row["memory"] == 25.0 and row["gpu"] == 40.0
    # half a core of a 2-core limit: 25% once the rule's 2m rate window is full; less before
    assert 0 < row["cpu"] <= 26
