"""Nothing waits forever, HTTP side: Grafana, then Alertmanager, behind a loopback listener that
accepts connections and never answers. The apply gives up after the Project's readTimeout (and the
retry policy's bounded retries) with one line per failed resource, exit 1, and the workspace lock
released; an Alertmanager whose reload never answers gets its previous config file back."""

from __future__ import annotations

import pytest

from tests.fakes.stalled import stalled_listener
from tests.integration.monitoring_support import write_specs
from tests.integration.test_grafana_alertmanager_cli import TOKEN_ENV, Cli

pytestmark = pytest.mark.integration
CONFIG = "route: {receiver: default}\nreceivers: [{name: default}]\n"
# provider -> (what --target selects, the name its errors give the server)
PEERS = {"grafana": ("tenant.*.grafana.*", "Grafana"),
         "alertmanager": ("tenant.*.alertmanager.*", "Alertmanager")}


@pytest.fixture
def stalled_url():
    """A listener that accept()s every connection and never sends a byte."""
    with stalled_listener() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_apply_against_a_peer_that_never_answers_ends_with_one_line_per_resource(
        tmp_path, stalled_url, amtool, monkeypatch, peer):
    target, server = PEERS[peer]
    monkeypatch.setenv(TOKEN_ENV, "test-token-never-shown")
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(CONFIG)
    urls = {"grafana_url": "http://127.0.0.1:9", "am_url": "http://127.0.0.1:9"}
    urls["grafana_url" if peer == "grafana" else "am_url"] = stalled_url
    specs = write_specs(tmp_path / "specs", tenants=("acme",), sink="http://127.0.0.1:9",
                        config_file=cfg, amtool=amtool, **urls)
    project = specs / "project.yaml"
    project.write_text(project.read_text().replace(
        f"      url: {stalled_url}\n",
        f"      url: {stalled_url}\n      connectTimeout: 1s\n      readTimeout: 200ms\n"))
    cli = Cli(tmp_path / ".ecpctl", {TOKEN_ENV: "test-token-never-shown"})

    r = cli("apply", str(specs), "--auto-approve", "--no-refresh", "--target", target)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and "test-token-never-shown" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error: ")]
    assert errors, r.output
    for line in errors:
        assert line.startswith(f"Error: tenant.acme.{peer}."), line
        assert f"cannot reach {server}" in line and "ReadTimeout" in line, line
    assert "Apply failed!" in r.output
    # Alertmanager: the file the reload would have loaded is rolled back, read from disk
    assert cfg.read_text() == CONFIG

    r = cli("plan", str(specs), "--no-refresh", "--target", target)   # the lock was released
    assert r.exit_code == 0, r.output
    assert "to add" in r.output
