"""`ecpctl sla` against a plain Prometheus (no sandbox, no Kubernetes): a real Prometheus server
scrapes a service's `ecp_requests_total` from a loopback exporter this test drives, and loads
ecpctl's rules written by the prometheus provider. The report follows what the service answers:
meeting while it succeeds, breaching with downtime and an incident while it fails, the incident
ended with a recovery time once it succeeds again; errors are one line, exit 1."""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ecpctl.engine import desired_state
from ecpctl.sandbox.prometheus import PrometheusServer
from providers.prometheus import PrometheusRulesProvider
from providers.protocol import ApplyRequest, ConfigureRequest
from tests.integration.sandbox_support import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata: {{name: sla-tests}}
spec:
  providers:
    prometheus: {{url: "{url}", rulesDir: "{rules_dir}"}}
  monitoring: {{rulesMode: file, alertmanagerMode: file, timeCompression: 60}}
"""
TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata: {{name: {name}}}
spec:
  services: {{chatbot: 10}}
  sla: {{availability: "{target}"}}
  database: {{enabled: false}}
"""


class Service:
    """A service's /metrics: `rps` requests a second per tenant, answered 200 or, while
    `failing[tenant]`, 503."""

    def __init__(self, tenants: list[str], rps: float = 20.0):
        self.counts = {(t, code): 0.0 for t in tenants for code in ("200", "503")}
        self.failing = {t: False for t in tenants}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        svc = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                with svc.lock:
                    lines = [f'ecp_requests_total{{tenant_id="{t}",namespace="ecp-ai-{t}",'
                             f'service="chatbot",code="{c}"}} {int(n)}'
                             for (t, c), n in sorted(svc.counts.items())]
                body = ("# TYPE ecp_requests_total counter\n" + "\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

        def traffic() -> None:
            while not self.stop.wait(0.1):
                with self.lock:
                    for t, bad in self.failing.items():
                        self.counts[(t, "503" if bad else "200")] += rps * 0.1
        threading.Thread(target=traffic, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()


@pytest.fixture
def setup(tmp_path, promtool) -> Iterator[tuple[Path, PrometheusServer, Service]]:
    svc = Service(["acme", "globex"])
    with PrometheusServer(tmp_path / "prom", interval="1s",
                          scrape_targets={"services": svc.target}) as prom:
        specs = tmp_path / "specs"
        specs.mkdir()
        (specs / "project.yaml").write_text(PROJECT.format(url=prom.url,
                                                           rules_dir=prom.rules_dir))
        (specs / "acme.yaml").write_text(TENANT.format(name="acme", target="99.5%"))
        (specs / "globex.yaml").write_text(TENANT.format(name="globex", target="99.9%"))
        p = PrometheusRulesProvider()
        assert not p.configure(ConfigureRequest(settings={
            "url": prom.url, "rulesDir": str(prom.rules_dir), "promtool": promtool},
            options={})).diagnostics
        for r in desired_state(specs).resources:
            if r.provider == "prometheus":
                p.apply(ApplyRequest(desired=r, prior=None, live=None))
        p.close()
        try:
            yield specs, prom, svc
        finally:
            svc.close()


def sla(specs: Path, *args: str, env: dict[str, str] | None = None
        ) -> tuple[int, dict[str, Any] | str]:
    out = subprocess.run([sys.executable, "-m", "ecpctl.cli.main", "sla", "--path", str(specs),
                          *args], capture_output=True, text=True, timeout=120, env=env)
    if "--json" in args:
        return out.returncode, json.loads(out.stdout)
    return out.returncode, out.stdout + out.stderr


def tenants(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["tenant"]: t for t in doc["tenants"]}


def test_sla_follows_what_the_service_answers(setup):
    specs, prom, svc = setup

    def meeting():
        code, doc = sla(specs, "--period", "20s", "--json")
        t = tenants(doc)
        return code == 0 and t["acme"]["requests"] > 100 and t["acme"]["burn_rates"]["5m"] \
            is not None and doc
    doc = until("both tenants meeting with burn rates recorded", meeting, 90, every=1)
    assert doc["command"] == "sla" and doc["ok"] is True and doc["all_meeting"] is True
    assert doc["prometheus"] == prom.url and doc["period"]["step_seconds"] == 1.0
    acme = tenants(doc)["acme"]
    assert acme["availability_percent"] == 100.0 and acme["error_budget_remaining"] == 1.0
    assert acme["target_percent"] == "99.5" and tenants(doc)["globex"]["target_percent"] == "99.9"
    assert acme["downtime_minutes"] == 0 and acme["incidents"] == [] and acme["mttr_minutes"] is None

    svc.failing["acme"] = True
    failed_at = time.time()

    def breaching():
        code, doc = sla(specs, "--period", "60s", "--json")
        t = tenants(doc)
        return code == 3 and t["acme"]["status"] == "breaching" \
            and t["acme"]["downtime_minutes"] * 60 >= 5 and doc
    doc = until("acme breaching with downtime", breaching, 90, every=1)
    assert doc["ok"] is True and doc["all_meeting"] is False
    t = tenants(doc)
    assert t["globex"]["status"] == "meeting" and t["globex"]["downtime_minutes"] == 0
    assert t["acme"]["error_budget_remaining"] < 0
    assert t["acme"]["burn_rates"]["5m"] > 14.4       # an error ratio of 1 is 200x the budget
    (incident,) = t["acme"]["incidents"]
    assert incident["end"] is None
    started = calendar.timegm(time.strptime(incident["start"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(started - failed_at) < 15

    code, text = sla(specs, "acme", "--period", "60s")
    assert code == 3
    assert "breaching" in text and "1 tenant not meeting target: acme." in text
    assert "acme: an incident is still going on" in text and "globex" not in text

    svc.failing["acme"] = False

    def recovered():
        code, doc = sla(specs, "acme", "--period", "90s", "--json")
        (t,) = doc["tenants"]
        return t["incidents"] and t["incidents"][-1]["end"] and t
    t = until("the incident to end", recovered, 90, every=1)
    assert t["mttr_minutes"] > 0 and t["downtime_minutes"] > 0
    assert t["mttr_minutes"] <= t["downtime_minutes"] + 0.05


def test_no_data_unknown_tenants_and_unreachable_prometheus(setup, tmp_path):
    specs, prom, svc = setup
    (specs / "idle.yaml").write_text(TENANT.format(name="idle", target="99%"))
    code, doc = sla(specs, "idle", "--period", "30s", "--json")
    assert code == 3
    (t,) = doc["tenants"]
    assert t["status"] == "no data" and t["availability_percent"] is None
    assert t["burn_rates"] == {"5m": None, "30m": None, "1h": None, "6h": None}

    code, text = sla(specs, "nobody")
    assert code == 1
    assert text.strip().splitlines() == [
        f"Error: no tenant nobody in {specs} (it has: acme, globex, idle)"]

    code, text = sla(specs, "--prometheus-url", "http://127.0.0.1:9")
    assert code == 1 and len(text.strip().splitlines()) == 1
    assert "cannot reach Prometheus at http://127.0.0.1:9" in text and "Traceback" not in text

    code, doc = sla(specs, "--prometheus-url", "http://127.0.0.1:9", "--json")
    assert code == 1 and doc["ok"] is False and doc["command"] == "sla"

    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "project.yaml").write_text("apiVersion: ecp.ai/v1\nkind: Project\n"
                                       "metadata: {name: bare}\nspec: {}\n")
    (bare / "acme.yaml").write_text(TENANT.format(name="acme", target="99.5%"))
    env = {k: v for k, v in os.environ.items() if k != "ECPCTL_PROMETHEUS_URL"}
    code, text = sla(bare, env=env)
    assert code == 1 and "no Prometheus to ask: set providers.prometheus.url" in text
    # the same from the environment, as `ecpctl sandbox env` exports it
    code, text = sla(bare, "--period", "30s", env={**env, "ECPCTL_PROMETHEUS_URL": prom.url})
    assert code in (0, 3) and "SLA over the last 0.5m" in text and prom.url in text
