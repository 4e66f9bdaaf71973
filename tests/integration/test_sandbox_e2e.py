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

import re
import time

import httpx
import pytest

from ecpctl.sandbox.alertmanager import WebhookSink
from tests.integration.sandbox_support import Sandbox, delivered, firing, until

# the timeout includes a first build of the control-plane binaries
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

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
                  "--wait-timeout", "120")
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
