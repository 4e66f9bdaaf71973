"""Owner marks on a tenant's Alertmanager fragment, through the CLI against the real Alertmanager
of the test environment (file mode): two workspaces writing the same tenant's route and receivers,
--adopt, and a fragment from before the marks that the state records."""

from __future__ import annotations

import httpx
import pytest

from providers.alertmanager import marks
from tests.integration.monitoring_support import write_specs
from tests.integration.test_grafana_alertmanager_cli import TOKEN_ENV
from tests.integration.test_grafana_ownership import WorkspaceCli

pytestmark = pytest.mark.integration
TARGET = ("--target", "tenant.*.alertmanager.*")


@pytest.fixture
def cli(tmp_path, fake_grafana, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, fake_grafana.token)
    c = WorkspaceCli(tmp_path / ".ecpctl", {TOKEN_ENV: fake_grafana.token})
    for ws in ("blue", "green"):
        assert c("workspace", "new", ws).exit_code == 0
    return c


@pytest.fixture
def specs(tmp_path, alertmanager, amtool, webhook_sink, fake_grafana):
    return write_specs(tmp_path / "specs", tenants=("acme",), sink=webhook_sink.base,
                       config_file=alertmanager.config_file, am_url=alertmanager.url,
                       amtool=amtool, grafana_url=fake_grafana.url)


def _apply(cli, workspace, specs, *args):
    return cli.ok(workspace, "apply", str(specs), "--auto-approve", *TARGET, *args)


def test_second_workspace_refused_then_adopts(cli, specs, alertmanager):
    _apply(cli, "blue", specs)
    text = alertmanager.config_file.read_text()
    assert f'{marks.LABEL}=~' in text and "workspace=blue lineage=" in text
    # Alertmanager loaded the marked route: the running config has the matcher too
    running = httpx.get(f"{alertmanager.url}/api/v2/status", timeout=10).json()
    assert "workspace=blue lineage=" in running["config"]["original"]

    r = cli.run("green", "plan", str(specs), *TARGET)
    assert r.exit_code == 1, r.output
    assert "refusing to create over route acme" in r.output
    assert "refusing to create over receiver ops" in r.output
    assert "owned by workspace 'blue'" in r.output
    r = cli.run("green", "apply", str(specs), "--auto-approve", *TARGET)
    assert r.exit_code == 1, r.output
    assert alertmanager.config_file.read_text() == text

    r = cli.ok("green", "plan", str(specs), *TARGET, "--adopt")
    assert "adopted with --adopt (owned by workspace 'blue'" in r.output
    _apply(cli, "green", specs, "--adopt")
    text = alertmanager.config_file.read_text()
    assert "workspace=green" in text and "workspace=blue" not in text
    assert "No changes." in cli.ok("green", "plan", str(specs), *TARGET).output

    r = cli.run("blue", "destroy", str(specs), *TARGET, "--auto-approve")
    assert r.exit_code == 1, r.output
    assert "refusing to delete route acme" in r.output and "owned by workspace 'green'" in r.output
    assert alertmanager.config_file.read_text() == text


def test_unmarked_fragment_in_state_gets_the_mark(cli, specs, alertmanager):
    _apply(cli, "blue", specs)
    path = alertmanager.config_file
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(x for x in lines if marks.LABEL not in x))   # as before the marks
    r = cli.ok("blue", "plan", str(specs), *TARGET)
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output     # the route alone
    _apply(cli, "blue", specs)
    assert "workspace=blue" in path.read_text()
    assert "No changes." in cli.ok("blue", "plan", str(specs), *TARGET).output
    # unmarked and recorded by no state: refused in another workspace
    path.write_text("".join(x for x in path.read_text().splitlines(keepends=True)
                            if marks.LABEL not in x))
    r = cli.run("green", "plan", str(specs), *TARGET)
    assert r.exit_code == 1 and "carries no ecpctl owner mark" in r.output, r.output


def test_no_refresh_destroy_refuses_a_route_another_workspace_took(cli, specs, alertmanager):
    """Offline, no plan read the file first: the transaction checks the route's mark in the
    config it is about to rewrite."""
    _apply(cli, "green", specs)
    _apply(cli, "blue", specs, "--adopt")           # green's state still records the fragment
    text = alertmanager.config_file.read_text()
    assert "workspace=blue" in text and "workspace=green" not in text
    r = cli.run("green", "destroy", str(specs), *TARGET, "--auto-approve", "--no-refresh")
    assert r.exit_code == 1, r.output
    assert "refusing to delete route acme: it is owned by workspace 'blue'" in r.output, r.output
    assert alertmanager.config_file.read_text() == text
    # a change from green (another webhook URL): its receiver is owned through blue's route
    tenant = specs / "acme.yaml"
    tenant.write_text(tenant.read_text().replace("/acme/ops", "/acme/ops-moved"))
    r = cli.run("green", "apply", str(specs), *TARGET, "--auto-approve", "--no-refresh")
    assert r.exit_code == 1, r.output
    assert "refusing to change receiver acme/ops: it is owned by workspace 'blue'" in r.output, \
        r.output
    assert alertmanager.config_file.read_text() == text
    # the owner's own offline destroy goes through the same check
    cli.ok("blue", "destroy", str(specs), *TARGET, "--auto-approve", "--no-refresh")
    assert marks.LABEL not in alertmanager.config_file.read_text()
