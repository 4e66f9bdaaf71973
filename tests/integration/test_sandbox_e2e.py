"""Issue 12's "Done when", end to end on a real sandbox (`ecpctl sandbox up`): two tenants applied,
traffic from the simulator, `ecpctl sla` meeting target; a `pod_crash` on tenant A fires the
burn-rate page and ServiceDown in the real Prometheus, which reach the real Alertmanager and are
delivered to A's webhook receiver (a loopback sink this test runs) and never to B's; `ecpctl sla`
reports the breach with downtime; clearing resolves the alerts and `status --wait` succeeds. A
second run with `cpu_spike` fires the documents' `cpu_usage > 80` alert.

Every wait polls the live systems (Prometheus /api/v1/alerts, Alertmanager /api/v2/alerts, the
sink) against a deadline; the sandbox's timeCompression (10) makes each run take a few minutes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ecpctl.sandbox.alertmanager import WebhookSink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

A, B = "alpha-center", "beta-center"
TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {name}
spec:
  preset: small
  services: {{chatbot: 10}}
  sla: {{availability: "99.5%", responseTime: 200ms}}
  database: {{enabled: false}}
  autoscaling: {{enabled: false}}
  monitoring:
    receivers:
      - name: ops
        webhook: {{url: "{sink}/{name}/ops"}}
    route: {{groupWait: 5s, groupInterval: 20s, repeatInterval: 1h}}
    alerts:
      - name: high_cpu_usage
        condition: cpu_usage > 80
        for: 5m
"""


class Sandbox:
    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "sandbox"
        self.specs = root / "specs"
        self.data = root / "state"
        self.env: dict[str, str] = {}
        self.rec: dict[str, Any] = {}

    def ecpctl(self, *args: str, check: bool = True, timeout: float = 300
               ) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "ecpctl.cli.main", *args], capture_output=True,
                             text=True, timeout=timeout, env=self.env or None, cwd=self.root)
        if check and out.returncode != 0:
            raise AssertionError(f"ecpctl {' '.join(args)} exited {out.returncode}:\n"
                                 f"{out.stdout}\n{out.stderr}")
        return out

    def up(self) -> None:
        self.ecpctl("sandbox", "up", "--dir", str(self.dir))
        exports = dict(re.findall(r"^export (\w+)='([^']*)'$",
                                  (self.dir / "env.sh").read_text(), re.M))
        self.rec = json.loads((self.dir / "sandbox.json").read_text())
        self.env = {**os.environ, **exports,
                    "PATH": f"{Path(self.rec['kubectl']).parent}:{os.environ['PATH']}"}

    def sla(self, *args: str) -> tuple[int, dict[str, Any]]:
        out = self.ecpctl("sla", "--path", str(self.specs), "--json", *args, check=False)
        assert out.returncode in (0, 3), out.stdout + out.stderr
        doc = json.loads(out.stdout)
        return out.returncode, {t["tenant"]: t for t in doc["tenants"]}

    def prom_alerts(self) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.rec['prometheus_url']}/api/v1/alerts", timeout=10)
        return r.json()["data"]["alerts"]

    def am_alerts(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.rec['alertmanager_url']}/api/v2/alerts", timeout=10).json()


def until(what: str, check: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def firing(alerts: list[dict[str, Any]], tenant: str, name: str, **labels: str) -> bool:
    return any(a["labels"].get("alertname") == name and a["labels"].get("tenant_id") == tenant
               and a["state"] == "firing"
               and all(a["labels"].get(k) == v for k, v in labels.items()) for a in alerts)


def delivered(sink: WebhookSink, tenant: str, name: str, status: str = "firing") -> bool:
    return any(alert["labels"].get("alertname") == name and alert["status"] == status
               for payload in sink.received(f"{tenant}/ops") for alert in payload["alerts"])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sink = WebhookSink()
    sb = Sandbox(tmp_path_factory.mktemp("e2e"))
    try:
        sb.up()
        sb.specs.mkdir()
        (sb.specs / "project.yaml").write_text((sb.dir / "project.yaml").read_text())
        for name in (A, B):
            (sb.specs / f"{name}.yaml").write_text(TENANT.format(name=name, sink=sink.base))
        sb.ecpctl("--data-dir", str(sb.data), "apply", str(sb.specs), "--auto-approve",
                  "--timeout", "120")
        yield sb, sink
    finally:
        sb.ecpctl("sandbox", "down", "--dir", str(sb.dir), check=False)
        sink.close()


def both_meeting(sb: Sandbox) -> None:
    def meeting():
        code, t = sb.sla("--period", "1m")
        return code == 0 and all(t[n]["status"] == "meeting" and t[n]["requests"] > 0
                                 for n in (A, B)) and t
    t = until("ecpctl sla to report both tenants meeting target", meeting, 180, every=5)
    assert t[A]["availability_percent"] >= 99.5 and t[A]["downtime_minutes"] == 0


def test_pod_crash_pages_tenant_a_only_and_sla_reports_the_breach(world):
    sb, sink = world
    both_meeting(sb)
    started = time.time()

    out = sb.ecpctl("sandbox", "fault", A, "pod_crash", "--dir", str(sb.dir)).stdout
    assert f"pod_crash on {A}" in out and "ServiceDown" in out

    # the real Prometheus fires both alerts, for tenant A only
    until("ServiceDown and the burn-rate page to fire in Prometheus",
          lambda: (alerts := sb.prom_alerts()) and firing(alerts, A, "ServiceDown")
          and firing(alerts, A, "ErrorBudgetBurn", slo_alert="page", long_window="1h"), 150)
    # ... the real Alertmanager holds them ...
    def in_alertmanager():
        names = {a["labels"]["alertname"] for a in sb.am_alerts()
                 if a["labels"].get("tenant_id") == A and a["status"]["state"] == "active"}
        return {"ServiceDown", "ErrorBudgetBurn"} <= names
    until("both alerts in Alertmanager", in_alertmanager, 60)
    # ... and delivers them to A's receiver
    until("both notifications at tenant A's webhook",
          lambda: delivered(sink, A, "ServiceDown") and delivered(sink, A, "ErrorBudgetBurn"), 90)
    payload = next(p for p in sink.received(f"{A}/ops")
                   if any(a["labels"]["alertname"] == "ServiceDown" for a in p["alerts"]))
    assert payload["receiver"] == f"{A}/ops"
    assert {a["labels"]["tenant_id"] for a in payload["alerts"]} == {A}
    assert any(a["labels"].get("service") == "chatbot" for a in payload["alerts"])

    # the SLA report names the breach and the downtime
    code, t = sb.sla("--period", f"{int(time.time() - started) + 60}s")
    assert code == 3
    assert t[A]["status"] == "breaching" and t[A]["downtime_minutes"] > 0
    assert t[A]["incidents"] and t[A]["incidents"][-1]["end"] is None     # still going on
    assert t[A]["error_budget_remaining"] < 0 and t[A]["burn_rates"]["5m"] > 14.4
    assert "ServiceDown" in t[A]["firing_alerts"]
    assert t[B]["status"] == "meeting" and t[B]["downtime_minutes"] == 0
    human = sb.ecpctl("sla", "--path", str(sb.specs), A, "--period", "5m", check=False)
    assert human.returncode == 3
    assert re.search(rf"^{A}\s+99\.5%\s+\S+%\s+breaching", human.stdout, re.M), human.stdout
    assert f"1 tenant not meeting target: {A}." in human.stdout

    # clear: the alerts resolve in Prometheus and A's receiver hears of it
    sb.ecpctl("sandbox", "fault", "--clear", A, "--dir", str(sb.dir))
    until("ServiceDown and the fast burn-rate page to resolve",
          lambda: not (firing(alerts := sb.prom_alerts(), A, "ServiceDown")
                       or firing(alerts, A, "ErrorBudgetBurn", long_window="1h")), 150)
    until("the resolved ServiceDown notification at A's webhook",
          lambda: delivered(sink, A, "ServiceDown", "resolved"), 90)
    status = sb.ecpctl("status", "--path", str(sb.specs), "--wait", "--wait-timeout", "2m")
    assert "2/2 services ready." in status.stdout

    # B heard nothing of it: no payload at its receiver names tenant A, or any alert at all
    assert sink.received(f"{B}/ops") == []
    code, t = sb.sla("--period", f"{int(time.time() - started) + 60}s")
    assert t[A]["incidents"] and t[A]["incidents"][0]["end"] is not None
    assert t[A]["mttr_minutes"] > 0


def test_cpu_spike_fires_the_documents_cpu_usage_alert(world):
    sb, sink = world
    assert not sb.ecpctl("status", "--path", str(sb.specs)).returncode
    sb.ecpctl("sandbox", "fault", A, "cpu_spike", "--dir", str(sb.dir))

    def usage() -> dict[str, float]:
        r = httpx.get(f"{sb.rec['prometheus_url']}/api/v1/query", params={"query": "cpu_usage"},
                      timeout=10).json()["data"]["result"]
        return {x["metric"]["tenant_id"]: float(x["value"][1]) for x in r}

    until("cpu_usage of tenant A above 90%", lambda: usage().get(A, 0) > 90, 90)
    assert usage()[B] < 80
    until("high_cpu_usage to fire for A", lambda: firing(sb.prom_alerts(), A, "high_cpu_usage"),
          120)
    until("high_cpu_usage at A's webhook", lambda: delivered(sink, A, "high_cpu_usage"), 90)
    alert = next(a for p in sink.received(f"{A}/ops") for a in p["alerts"]
                 if a["labels"]["alertname"] == "high_cpu_usage")
    assert alert["labels"]["service"] == "chatbot" and alert["labels"]["tenant_id"] == A
    assert not firing(sb.prom_alerts(), B, "high_cpu_usage")

    sb.ecpctl("sandbox", "fault", "--clear", "--dir", str(sb.dir))
    until("high_cpu_usage to resolve",
          lambda: not firing(sb.prom_alerts(), A, "high_cpu_usage"), 120)
    until("the resolved high_cpu_usage notification",
          lambda: delivered(sink, A, "high_cpu_usage", "resolved"), 90)
    assert sink.received(f"{B}/ops") == []
    sb.ecpctl("status", "--path", str(sb.specs), "--wait", "--wait-timeout", "1m")
