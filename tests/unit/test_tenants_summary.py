"""`tenants --summary` offline: counts by status and preset from the registry after an apply with
the fake provider, quotas summed, no cluster or Prometheus said plainly, nothing created."""

from __future__ import annotations

import json

from ecpctl.fleet import Capacity, Utilisation, summarize
from ecpctl.kernel.quantity import parse_cpu
from state import TenantRecord


def test_summary_after_apply_counts_the_registry(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    listed = json.loads(ecpctl("tenants", "--json").stdout)["tenants"]
    r = ecpctl("tenants", "--summary", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["command"] == "tenants" and got["ok"] is True
    assert got["totals"]["all"] == len(listed) == got["totals"]["running"]
    assert got["by_preset"] == {p: sum(1 for t in listed if t["preset"] == p)
                                for p in sorted({t["preset"] for t in listed})}
    assert parse_cpu(got["quota"]["cpu"]) == sum(parse_cpu(t["cpu_limit"]) for t in listed)
    assert got["cluster"] == {"reachable": False, "reason": "no cluster configured", "nodes": None,
                              "allocatable": None,
                              "quota_percent": {"cpu": None, "memory": None, "gpu": None}}
    assert got["utilisation"]["reason"].startswith("no Prometheus configured")


def test_summary_in_an_empty_directory_creates_nothing(ecpctl, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = ecpctl("tenants", "--summary")
    assert r.exit_code == 0, r.output
    assert "Tenants in workspace default: 0 (running 0, pending 0, failed 0, demo 0)" in r.output
    assert "Quotas (no cluster configured):" in r.output
    assert not ecpctl.data_dir.exists()


def test_counts_shares_and_statuses():
    rows = [TenantRecord(tenant_id="a", name="A", preset="small", status="running",
                         cpu_limit="4", memory_limit="8Gi", gpu_limit=1),
            TenantRecord(tenant_id="b", name="B", preset="large", status="failed", is_demo=True,
                         cpu_limit="500m", memory_limit="1Gi", gpu_limit=0),
            TenantRecord(tenant_id="c", name="C", preset="small", status="pending")]
    s = summarize("prod", rows, Capacity(True, None, 2, {"cpu": 9000, "memory": 18 * 2 ** 30,
                                                           "gpu": 2}), Utilisation(None, "none"))
    assert s.totals == {"all": 3, "running": 1, "pending": 1, "applying": 0, "failed": 1,
                        "destroying": 0, "demo": 1}
    assert s.by_preset == {"large": 1, "small": 2}
    assert s.quota == {"cpu": 4500, "memory": 9 * 2 ** 30, "gpu": 1}
    assert s.share("cpu") == 50.0 and s.share("memory") == 50.0 and s.share("gpu") == 50.0
