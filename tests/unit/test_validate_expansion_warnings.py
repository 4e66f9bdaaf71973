"""`validate` expands the specs as plan does: the expansion's warnings (a custom alert on a metric
nothing provides, a receiver whose webhook variable is unset) are reported once each with
file:line, human and JSON, and an alert condition Prometheus would refuse fails validate."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.test_plan_expansion_warnings import ALERT, SLACK, specs  # noqa: F401 - a fixture


def test_validate_prints_each_expansion_warning_once(ecpctl, specs: Path):
    r = ecpctl("validate", str(specs))
    assert r.exit_code == 0, r.output
    assert r.stdout == "Success! 4 tenants, 1 project in examples are valid.\n"
    warnings = [line for line in r.stderr.splitlines() if line.startswith("Warning: ")]
    assert sum(ALERT in w for w in warnings) == 1, r.stderr
    assert sum(SLACK in w for w in warnings) == 1, r.stderr
    assert len(warnings) == 2, r.stderr


def test_validate_json_carries_them_with_file_line_and_field(ecpctl, specs: Path):
    r = ecpctl("validate", str(specs), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["valid"] is True
    by_field = {d["field"]: d for d in doc["diagnostics"]}
    assert len(by_field) == len(doc["diagnostics"]) == 2
    alert = by_field["spec.monitoring.alerts[0].condition"]
    assert (alert["severity"], alert["file"], alert["line"], alert["column"]) == \
        ("warning", "examples/ai-call-center-prod.yaml", 36, 20)
    assert alert["message"].startswith(ALERT)
    slack = by_field["spec.monitoring.receivers[0].slack.apiUrlEnv"]
    assert (slack["severity"], slack["file"], slack["line"], slack["column"]) == \
        ("warning", "examples/global-call-center.yaml", 31, 22)
    assert slack["message"].startswith(SLACK)


def test_validate_refuses_an_alert_condition_prometheus_would_refuse(ecpctl, specs: Path):
    prod = specs / "ai-call-center-prod.yaml"
    prod.write_text(prod.read_text().replace("condition: bogus_metric_total > 5",
                                             'condition: "rate(cpu_usage) > 80"'))
    r = ecpctl("validate", str(specs))
    assert r.exit_code == 1, r.output
    assert "Error: examples/ai-call-center-prod.yaml:36:20: spec.monitoring.alerts[0].condition: " \
        "invalid alert condition 'rate(cpu_usage) > 80'" in r.stderr
