"""Nothing waits forever, HTTP side: Grafana behind a loopback listener that accepts connections
and never answers. The apply gives up after the Project's readTimeout (and the retry policy's
bounded retries) with one line per failed resource, exit 1, and the workspace lock released."""

from __future__ import annotations

import pytest

from tests.fakes.stalled import stalled_listener
from tests.integration.monitoring_support import write_specs
from tests.integration.test_grafana_alertmanager_cli import TOKEN_ENV, Cli

pytestmark = pytest.mark.integration
TARGET = ("--target", "tenant.*.grafana.*")


@pytest.fixture
def stalled_url():
    """A listener that accept()s every connection and never sends a byte."""
    with stalled_listener() as port:
        yield f"http://127.0.0.1:{port}"


def test_apply_against_a_grafana_that_never_answers_ends_with_one_line_per_resource(
        tmp_path, stalled_url, amtool, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "test-token-never-shown")
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text("route: {receiver: default}\nreceivers: [{name: default}]\n")
    specs = write_specs(tmp_path / "specs", tenants=("acme",), sink="http://127.0.0.1:9",
                        config_file=cfg, am_url="http://127.0.0.1:9", amtool=amtool,
                        grafana_url=stalled_url)
    project = specs / "project.yaml"
    project.write_text(project.read_text().replace(
        f"      url: {stalled_url}\n",
        f"      url: {stalled_url}\n      connectTimeout: 1s\n      readTimeout: 200ms\n"))
    cli = Cli(tmp_path / ".ecpctl", {TOKEN_ENV: "test-token-never-shown"})

    r = cli("apply", str(specs), "--auto-approve", "--no-refresh", *TARGET)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and "test-token-never-shown" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error: ")]
    assert errors, r.output
    for line in errors:
        assert line.startswith("Error: tenant.acme.grafana."), line
        assert "cannot reach Grafana" in line and "ReadTimeout" in line, line
    assert "Apply failed!" in r.output

    r = cli("plan", str(specs), "--no-refresh", *TARGET)      # the workspace lock was released
    assert r.exit_code == 0, r.output
    assert "to add" in r.output
