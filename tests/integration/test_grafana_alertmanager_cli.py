"""Plan and apply of the monitoring providers through the CLI, with the real providers: a real
Alertmanager (file mode) and the fake Grafana (HTTP mode; Grafana cannot be installed here).

Only these two providers are configured, and `--target` keeps the plan to their resources."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.integration.monitoring_support import write_specs

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("--target", "tenant.*.alertmanager.*", "--target", "tenant.*.grafana.*")
TOKEN_ENV = "ECPCTL_TEST_GRAFANA_TOKEN"


class Cli:
    def __init__(self, data_dir: Path, env: dict[str, str]):
        self.data_dir = data_dir
        self.env = env

    def __call__(self, *args: str):
        from ecpctl.cli.main import cli
        # no provider overrides: the real alertmanager and grafana providers
        return CliRunner().invoke(cli, ["--data-dir", str(self.data_dir), *args],
                                  env={"ECPCTL_PROVIDER_OVERRIDES": "", "NO_COLOR": "1",
                                       "COLUMNS": "200", **self.env},
                                  catch_exceptions=False)


@pytest.fixture
def cli(tmp_path, fake_grafana, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, fake_grafana.token)
    return Cli(tmp_path / ".ecpctl", {TOKEN_ENV: fake_grafana.token})


@pytest.fixture
def specs(tmp_path, alertmanager, amtool, webhook_sink, fake_grafana):
    return write_specs(tmp_path / "specs", sink=webhook_sink.base,
                       config_file=alertmanager.config_file, am_url=alertmanager.url,
                       amtool=amtool, grafana_url=fake_grafana.url)


def applied(cli, specs) -> str:
    r = cli("apply", str(specs), "--auto-approve", *TARGETS)
    assert r.exit_code == 0, r.output
    return r.output


def test_apply_then_plan_says_no_changes(cli, specs, alertmanager, fake_grafana):
    r = cli("plan", str(specs), *TARGETS)
    assert r.exit_code == 0, r.output
    assert "Plan: 12 to add, 0 to change, 0 to destroy." in r.output
    assert 'resource "route" "acme"' in r.output and 'resource "dashboard" "ecp-acme-slo"' in r.output
    out = applied(cli, specs)
    assert "Apply complete! Resources: 12 added, 0 changed, 0 destroyed." in out
    assert "globex/oncall" in alertmanager.config_file.read_text()
    assert set(fake_grafana.dashboards) == {"ecp-acme-overview", "ecp-acme-slo",
                                            "ecp-globex-overview", "ecp-globex-slo"}
    fake_grafana.reset_counts()
    r = cli("plan", str(specs), *TARGETS, "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output
    # the no-op plan's cost in Grafana: two lists, one GET per dashboard, one data source list
    assert fake_grafana.count("POST") == 0
    assert fake_grafana.count("GET", "/api/dashboards/uid/") == 4
    assert fake_grafana.count("GET", "/api/search") == 1
    assert fake_grafana.count("GET", "/api/folders") == 1


def test_json_plan_reports_the_requests(cli, specs):
    applied(cli, specs)
    r = cli("plan", str(specs), *TARGETS, "--json")
    assert r.exit_code == 0, r.output
    import json
    plan = json.loads(r.output)
    assert plan["requests"]["alertmanager"] == {"file_read": 1}
    assert plan["requests"]["grafana"] == {"GET": 2 + 4}
    assert plan["summary"] == {"add": 0, "change": 0, "destroy": 0, "no_op": 12}
    assert {tuple(c["actions"]) for c in plan["resource_changes"]} == {("no-op",)}


def test_hand_edit_of_the_file_shows_as_that_change(cli, specs, alertmanager):
    applied(cli, specs)
    f = alertmanager.config_file
    f.write_text(f.read_text().replace("/globex/ops", "/globex/somewhere-else"))
    r = cli("plan", str(specs), *TARGETS, "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output
    assert "tenant.globex.alertmanager.receiver.ops" in r.output
    assert "changed outside ecpctl" in r.output
    assert "somewhere-else" in r.output and "/globex/ops" in r.output
    applied(cli, specs)
    assert "somewhere-else" not in f.read_text()
    assert "somewhere-else" not in alertmanager.running_config()
    r = cli("plan", str(specs), *TARGETS, "--detailed-exitcode")
    assert r.exit_code == 0 and "No changes." in r.output


def test_ui_edit_of_a_dashboard_shows_as_drift(cli, specs, fake_grafana):
    applied(cli, specs)
    h = {"Authorization": f"Bearer {fake_grafana.token}"}
    body = httpx.get(f"{fake_grafana.url}/api/dashboards/uid/ecp-acme-slo", headers=h).json()
    dash = body["dashboard"]
    dash["panels"][0]["title"] = "Renamed in the UI"
    httpx.post(f"{fake_grafana.url}/api/dashboards/db", headers=h,
               json={"dashboard": dash, "folderUid": body["meta"]["folderUid"]}).raise_for_status()
    r = cli("plan", str(specs), *TARGETS, "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert "tenant.acme.grafana.dashboard.ecp-acme-slo" in r.output
    assert "Renamed in the UI" in r.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output
    applied(cli, specs)
    assert fake_grafana.dashboards["ecp-acme-slo"]["json"]["panels"][0]["title"] == \
        "Availability (30d)"


def test_removing_a_tenant_removes_its_part_only(cli, specs, alertmanager, fake_grafana):
    applied(cli, specs)
    (specs / "globex.yaml").unlink()
    r = cli("apply", str(specs), "--auto-approve", *TARGETS)
    assert r.exit_code == 0, r.output
    assert "6 destroyed" in r.output
    text = alertmanager.config_file.read_text()
    assert "globex" not in text and "acme/ops" in text and "operator-oncall" in text
    assert set(fake_grafana.folders) == {"ecp-ai-acme"}


def test_a_bad_condition_fails_the_plan_naming_file_and_line(cli, specs):
    f = specs / "acme.yaml"
    f.write_text(f.read_text().replace("cpu_usage > 80", "cpu_usage >"))
    r = cli("plan", str(specs), *TARGETS)
    assert r.exit_code == 1
    line = next(i for i, t in enumerate(f.read_text().splitlines(), 1) if "condition:" in t)
    assert re.search(rf"acme\.yaml:{line}:\d+: spec\.monitoring\.alerts\[0\]\.condition: "
                     r"invalid alert condition", r.output), r.output
    assert "Traceback" not in r.output


def test_every_example_plans_and_applies_its_routes_and_dashboards(
        tmp_path, cli, alertmanager, amtool, fake_grafana, monkeypatch):
    specs = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", specs)
    project = (specs / "project.yaml").read_text()
    project = project.replace("dashboardsMode: configmap", "dashboardsMode: http") \
        .replace("alertmanagerMode: kubernetes", "alertmanagerMode: file") \
        .replace("url: http://127.0.0.1:3000", f"url: {fake_grafana.url}") \
        .replace("tokenEnv: GRAFANA_TOKEN", f"tokenEnv: {TOKEN_ENV}") \
        .replace("url: http://127.0.0.1:9093", f"url: {alertmanager.url}\n"
                                               f"      configFile: {alertmanager.config_file}") \
        .replace("amtool: amtool", f"amtool: {amtool}")
    (specs / "project.yaml").write_text(project)
    cli.env["NOC_SLACK_WEBHOOK_URL"] = "https://hooks.slack.example/services/T0/B0/XXXX"
    out = applied(cli, specs)
    assert "Apply complete!" in out
    # every example tenant has dashboards; those with receivers have routes
    assert {d["json"]["tags"][1] for d in fake_grafana.dashboards.values()} == {
        "tenant:ai-call-center-prod", "tenant:global-call-center", "tenant:my-ai-service",
        "tenant:test-ai-service"}
    text = alertmanager.config_file.read_text()
    for t in ("ai-call-center-prod", "global-call-center"):
        assert f'tenant_id="{t}"' in text
    assert "XXXX" not in out                              # the slack URL is a secret
    r = cli("plan", str(specs), *TARGETS, "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output
