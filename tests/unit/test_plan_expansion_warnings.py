"""Warnings that expansion finds reach the plan, refreshed or not, human and JSON, once each: a
custom alert on a metric that nothing provides (it would never fire), and a receiver whose webhook
variable is unset (its notifications would go nowhere)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALERT = "examples/ai-call-center-prod.yaml:36:20: spec.monitoring.alerts[0].condition: alert " \
        "'high_cpu_usage' reads bogus_metric_total, which no rule ecpctl generates and no known " \
        "exporter provides: it will never fire"
SLACK = "examples/global-call-center.yaml:31:22: spec.monitoring.receivers[0].slack.apiUrlEnv: " \
        "environment variable NOC_SLACK_WEBHOOK_URL is not set"


@pytest.fixture
def specs(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    prod = tmp_path / "examples" / "ai-call-center-prod.yaml"
    prod.write_text(prod.read_text().replace("condition: cpu_usage > 80",
                                             "condition: bogus_metric_total > 5"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOC_SLACK_WEBHOOK_URL", raising=False)
    return Path("examples")


@pytest.mark.parametrize("refresh", [["--no-refresh"], []])
def test_plan_prints_each_expansion_warning_once(ecpctl, specs, refresh):
    r = ecpctl("plan", str(specs), *refresh)
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.output.splitlines() if line.startswith("Warning: ")]
    assert sum(ALERT in w for w in warnings) == 1, r.output
    assert sum(SLACK in w for w in warnings) == 1, r.output


def test_plan_json_carries_them_with_file_line_and_field(ecpctl, specs):
    r = ecpctl("plan", str(specs), "--no-refresh", "--json")
    assert r.exit_code == 0, r.output
    diags = {d["field"]: d for d in json.loads(r.stdout)["diagnostics"]}
    alert = diags["spec.monitoring.alerts[0].condition"]
    assert (alert["severity"], alert["file"], alert["line"]) == \
        ("warning", "examples/ai-call-center-prod.yaml", 36)
    assert "bogus_metric_total" in alert["summary"]
    slack = diags["spec.monitoring.receivers[0].slack.apiUrlEnv"]
    assert (slack["severity"], slack["line"]) == ("warning", 31)


def test_a_known_metric_and_a_set_variable_warn_nothing(ecpctl, tmp_path, monkeypatch):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOC_SLACK_WEBHOOK_URL", "https://hooks.example.com/x")
    r = ecpctl("plan", "examples", "--no-refresh")
    assert r.exit_code == 0, r.output
    assert "Warning: " not in r.output
