"""The generated Prometheus rules under Prometheus' own promtool (Debian package `prometheus`):
`promtool check rules` on every tenant's rule groups, and `promtool test rules` unit tests proving
that each burn-rate alert fires on a series that burns the budget fast enough and stays quiet on
one that does not, and that a tenant's rules never see another tenant's series."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ecpctl.engine import desired_state
from ecpctl.slo import WINDOWS, burn_thresholds, slo_rule_groups
from tests.testenv.alertmanager import run_promtool

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PER_MINUTE = 1000            # requests per minute in the synthetic series


def dump(data, path: Path) -> Path:
    y = YAML()
    y.default_flow_style = False
    with path.open("w") as f:
        y.dump(data, f)
    return path


def check_rules(promtool: str, groups: list[dict], path: Path) -> None:
    dump({"groups": groups}, path)
    out = run_promtool("check", "rules", str(path), promtool=promtool)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def run_rule_tests(promtool: str, tmp_path: Path, groups: list[dict], tests: list[dict]):
    dump({"groups": groups}, tmp_path / "rules.yml")
    dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests},
         tmp_path / "tests.yml")
    return run_promtool("test", "rules", "tests.yml", cwd=tmp_path, promtool=promtool)


def prometheus_rules(path: Path) -> dict[str, list[dict]]:
    return {r.tenant: r.attributes["spec"]["groups"] for r in desired_state(path).resources
            if r.type == "monitoring.coreos.com/v1.PrometheusRule"}


# ------------------------------------------------------------------ promtool check rules


@pytest.mark.parametrize("specs", ["examples", "tests/unit/specs/basic"])
def test_every_tenants_rules_pass_promtool_check(promtool, tmp_path, specs):
    rules = prometheus_rules(ROOT / specs)
    assert rules
    for tenant, groups in rules.items():
        check_rules(promtool, groups, tmp_path / f"{tenant}.yml")


@pytest.mark.parametrize("availability", ["90", "99", "99.5", "99.9", "99.95", "99.99", "99.999"])
def test_slo_rules_pass_promtool_check_at_any_target(promtool, tmp_path, availability):
    check_rules(promtool, slo_rule_groups("t", Decimal(availability)), tmp_path / "r.yml")


def test_every_dashboard_query_passes_promtool_check(promtool, tmp_path):
    """Each panel query, as a recording rule ($__rate_interval as Grafana would fill it in)."""
    exprs = []
    for r in desired_state(ROOT / "examples").resources:
        if r.type == "v1.ConfigMap" and r.name.startswith("ecp-ai-dashboard-"):
            for text in r.attributes["data"].values():
                for panel in json.loads(text)["panels"]:
                    exprs += [t["expr"] for t in panel.get("targets", [])]
    assert len(exprs) > 40
    rules = [{"record": f"ecpctl:dashboard_query_{i}", "expr": e.replace("$__rate_interval", "5m")}
             for i, e in enumerate(exprs)]
    check_rules(promtool, [{"name": "dashboards", "rules": rules}], tmp_path / "d.yml")


# ------------------------------------------------------------------ promtool test rules


def series(tenant: str, *, ok: str, errors: str) -> list[dict]:
    return [{"series": f'ecp_requests_total{{tenant_id="{tenant}",code="200",service="chatbot"}}',
             "values": ok},
            {"series": f'ecp_requests_total{{tenant_id="{tenant}",code="500",service="chatbot"}}',
             "values": errors}]


def steady(tenant: str, burn: Decimal, availability: Decimal, minutes: int) -> list[dict]:
    """Counters whose error ratio is `burn` times the error budget, for `minutes` minutes."""
    budget = (Decimal(100) - availability) / 100
    err = burn * budget * PER_MINUTE
    return series(tenant, ok=f"0+{PER_MINUTE - err}x{minutes}", errors=f"0+{err}x{minutes}")


def expected(tenant: str, availability: Decimal, firing: list) -> list[dict]:
    rules = slo_rule_groups(tenant, availability)[1]["rules"]
    out = []
    for bw in firing:
        rule = next(r for r in rules if r["labels"]["long_window"] == bw.long)
        out.append({"exp_labels": {"alertname": "ErrorBudgetBurn", **rule["labels"]},
                    "exp_annotations": rule["annotations"]})
    return out


EVAL = "4h"       # after the longest `for` (3h) of the slowest alert


def burn_case(availability: Decimal, burn: Decimal) -> dict:
    firing = [bw for bw in WINDOWS if burn > bw.factor]
    return {"interval": "1m", "input_series": steady("acme", burn, availability, 300),
            "alert_rule_test": [{"eval_time": EVAL, "alertname": "ErrorBudgetBurn",
                                 "exp_alerts": expected("acme", availability, firing)}],
            "name": f"burn {burn}x"}


@pytest.mark.parametrize("availability", ["99.5", "99.9"])
def test_each_burn_rate_alert_fires_above_its_rate_and_not_below(promtool, tmp_path, availability):
    avail = Decimal(availability)
    groups = slo_rule_groups("acme", avail)
    tests = []
    for bw in WINDOWS:
        tests.append(burn_case(avail, bw.factor * Decimal("1.25")))    # fires (and the slower ones)
        tests.append(burn_case(avail, bw.factor * Decimal("0.8")))     # quiet (the slower ones fire)
    out = run_rule_tests(promtool, tmp_path, groups, tests)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout
    # the cases above cover each alert both ways
    for bw in WINDOWS:
        fires = [t for t in tests if any(a["exp_labels"]["long_window"] == bw.long
                                         for a in t["alert_rule_test"][0]["exp_alerts"])]
        quiet = [t for t in tests if t not in fires]
        assert fires and quiet


def test_thresholds_in_the_rules_are_the_exact_ones(promtool, tmp_path):
    _, alerts = slo_rule_groups("acme", Decimal("99.5"))
    assert [str(t) for _, t in burn_thresholds(Decimal("99.5"))] == ["0.072", "0.03", "0.015",
                                                                     "0.005"]
    for rule, thr in zip(alerts["rules"], ["0.072", "0.03", "0.015", "0.005"]):
        assert rule["expr"].count(f"> {thr}") == 2


def test_budget_within_target_never_alerts(promtool, tmp_path):
    avail = Decimal("99.5")
    tests = [{"interval": "1m", "input_series": steady("acme", Decimal("0.9"), avail, 300),
              "alert_rule_test": [{"eval_time": t, "alertname": "ErrorBudgetBurn", "exp_alerts": []}
                                  for t in ("10m", "1h", "3h", "5h")]},
             # no errors at all: the ratio is 0, not absent
             {"interval": "1m", "input_series": series("acme", ok="0+1000x60", errors="0x60"),
              "alert_rule_test": [{"eval_time": "1h", "alertname": "ErrorBudgetBurn",
                                   "exp_alerts": []}],
              "promql_expr_test": [{"expr": 'tenant:ecp_request_errors:ratio_rate5m',
                                    "eval_time": "1h",
                                    "exp_samples": [{"labels": 'tenant:ecp_request_errors:'
                                                               'ratio_rate5m{tenant_id="acme"}',
                                                     "value": 0}]}]}]
    out = run_rule_tests(promtool, tmp_path, slo_rule_groups("acme", avail), tests)
    assert out.returncode == 0, out.stdout + out.stderr


def test_page_alerts_stop_when_the_burn_stops(promtool, tmp_path):
    """A burst at 20x for 3h, then 40 minutes without errors: the short windows are clean, so the
    page alerts are quiet; the ticket alerts still fire (their short windows still see it)."""
    avail = Decimal("99.5")
    tests = [{"interval": "1m",
              "input_series": series("acme", ok="0+900x220", errors="0+100x180 18000+0x39"),
              "alert_rule_test": [
                  {"eval_time": "2h", "alertname": "ErrorBudgetBurn",
                   "exp_alerts": expected("acme", avail, list(WINDOWS[:3]))},
                  {"eval_time": "3h40m", "alertname": "ErrorBudgetBurn",
                   "exp_alerts": expected("acme", avail, [WINDOWS[2], WINDOWS[3]])}]}]
    out = run_rule_tests(promtool, tmp_path, slo_rule_groups("acme", avail), tests)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_tenants_rules_ignore_other_tenants(promtool, tmp_path):
    avail = Decimal("99.5")
    tests = [{"interval": "1m",
              "input_series": steady("globex", Decimal("50"), avail, 300)
              + steady("acme", Decimal("0.5"), avail, 300),
              "alert_rule_test": [{"eval_time": EVAL, "alertname": "ErrorBudgetBurn",
                                   "exp_alerts": []}]}]
    out = run_rule_tests(promtool, tmp_path, slo_rule_groups("acme", avail), tests)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_harness_catches_a_wrong_expectation(promtool, tmp_path):
    """A control: expecting silence from a series that burns at 20x must fail."""
    avail = Decimal("99.5")
    tests = [{"interval": "1m", "input_series": steady("acme", Decimal("20"), avail, 300),
              "alert_rule_test": [{"eval_time": EVAL, "alertname": "ErrorBudgetBurn",
                                   "exp_alerts": []}]}]
    out = run_rule_tests(promtool, tmp_path, slo_rule_groups("acme", avail), tests)
    assert out.returncode != 0
    assert "ErrorBudgetBurn" in out.stdout + out.stderr


def test_custom_alert_fires_for_the_tenant_only(promtool, tmp_path):
    rules = prometheus_rules(ROOT / "examples")["ai-call-center-prod"]
    custom = next(g for g in rules if g["name"].endswith("-custom"))
    (rule,) = custom["rules"]
    assert rule["expr"] == 'cpu_usage{tenant_id="ai-call-center-prod"} > 80'
    tests = [{"interval": "1m",
              "input_series": [
                  {"series": 'cpu_usage{tenant_id="ai-call-center-prod",pod="callbot-0"}',
                   "values": "90x20"},
                  {"series": 'cpu_usage{tenant_id="ai-call-center-prod",pod="chatbot-0"}',
                   "values": "70x20"},
                  {"series": 'cpu_usage{tenant_id="global-call-center",pod="callbot-0"}',
                   "values": "99x20"}],
              "alert_rule_test": [
                  {"eval_time": "4m", "alertname": "high_cpu_usage", "exp_alerts": []},
                  {"eval_time": "6m", "alertname": "high_cpu_usage", "exp_alerts": [{
                      "exp_labels": {"alertname": "high_cpu_usage", "pod": "callbot-0",
                                     **rule["labels"]},
                      "exp_annotations": rule["annotations"]}]}]}]
    out = run_rule_tests(promtool, tmp_path, [custom], tests)
    assert out.returncode == 0, out.stdout + out.stderr
