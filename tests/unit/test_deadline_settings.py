"""The Project's deadlines reach the clients and tools that wait: the Kubernetes client's connect and
read timeouts, and how long `promtool check rules` and `amtool check-config` may run. A tool that
runs past its deadline ends as one line naming the tool and the deadline."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecpctl.cli.main import cli
from ecpctl.kernel import Timeout
from providers.alertmanager import server as am_server
from providers.alertmanager.provider import AlertmanagerProvider
from providers.kubernetes import provider as kube_provider
from providers.kubernetes.client import Connection, KubeClient, KubeError
from providers.prometheus import server as prom_server
from providers.prometheus.provider import PrometheusRulesProvider
from providers.protocol import ConfigureRequest
from tests.fakes.stalled import stalled_listener

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, extra: str) -> Path:
    text = (ROOT / "examples" / "project.yaml").read_text(encoding="utf-8")
    marker = "      namespacePrefix: ecp-ai-\n"
    assert marker in text
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "project.yaml").write_text(text.replace(marker, marker + extra, 1), encoding="utf-8")
    return specs


def test_a_zero_kubernetes_timeout_is_refused_in_one_line(tmp_path):
    specs = _project(tmp_path, "      readTimeout: 0s\n")
    r = CliRunner().invoke(cli, ["validate", str(specs)])
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert lines[0].startswith(f"Error: {specs / 'project.yaml'}:15:20: "
                               "spec.providers.kubernetes.readTimeout: must be longer than 0s (nothing could finish in it)")


def test_the_project_timeouts_reach_the_kubernetes_client(monkeypatch):
    made: dict = {}

    class FakeClient:
        def __init__(self, conn, *, pool_size, timeout):
            made["timeout"] = timeout

    monkeypatch.setattr(kube_provider, "KubeClient", FakeClient)
    monkeypatch.setattr(kube_provider, "Discovery", lambda client: None)
    monkeypatch.setattr(kube_provider, "_load_discovery", lambda discovery: None)
    p = kube_provider.KubernetesProvider()
    resp = p.configure(ConfigureRequest(
        settings={"kubeconfig": "/nonexistent", "connectTimeout": "3s", "readTimeout": "1m30s"},
        options={}))
    assert not resp.diagnostics
    assert made["timeout"] == (3.0, 90.0)
    made.clear()
    p.configure(ConfigureRequest(settings={"kubeconfig": "/nonexistent"}, options={}))
    assert made["timeout"] == (10.0, 60.0)


@pytest.fixture
def silent_server():
    with stalled_listener() as port:
        yield port


def test_the_kubernetes_client_gives_up_after_its_read_timeout(tmp_path, silent_server):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{silent_server}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    client = KubeClient(Connection(str(kubeconfig), None, False), timeout=(1.0, 0.3))
    started = time.monotonic()
    with pytest.raises(KubeError) as info:
        client.request("GET", "/api", verb="get")
    assert time.monotonic() - started < 10    # the default (60 s per read) would hang the test
    assert info.value.status == 0 and "timed out" in info.value.message.lower()
    client.close()


def _hanging_tool(tmp_path: Path, name: str) -> str:
    tool = tmp_path / name
    tool.write_text(f"#!{sys.executable}\nimport time; time.sleep(30)\n")
    tool.chmod(0o755)
    return str(tool)


def test_a_promtool_past_its_deadline_ends_as_one_line(tmp_path):
    rules = tmp_path / "r.yml"
    rules.write_text("groups: []\n")
    promtool = _hanging_tool(tmp_path, "promtool")
    with pytest.raises(Timeout) as info:
        prom_server.check_rules(promtool, rules, "r.yml", timeout=0.2)
    assert str(info.value) == (f"{promtool} check rules did not finish within 0.2s "
                               "(providers.prometheus.checkTimeout)")


def test_an_amtool_past_its_deadline_ends_as_one_line(tmp_path):
    cfg = tmp_path / "am.yml"
    cfg.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    amtool = _hanging_tool(tmp_path, "amtool")
    with pytest.raises(Timeout) as info:
        am_server.check_config(amtool, cfg, timeout=0.2)
    assert str(info.value) == (f"{amtool} check-config did not finish within 0.2s "
                               "(providers.alertmanager.checkTimeout)")


def _configured(tmp_path: Path, kind: str):
    """The provider configured with checkTimeout set, its check, and the setting's name."""
    tool = _hanging_tool(tmp_path, kind)
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    if kind == "promtool":
        p = PrometheusRulesProvider()
        settings = {"rulesDir": str(tmp_path), "promtool": tool, "checkTimeout": "1500ms"}
        return (p, settings, lambda: p._check(tmp_path, tool, "groups: []\n", "t.yml",
                                              p._check_timeout), prom_server, "prometheus")
    p2 = AlertmanagerProvider()
    settings = {"configFile": str(cfg), "amtool": tool, "checkTimeout": "1500ms"}
    return p2, settings, lambda: p2._check(cfg, tool, cfg.read_text()), am_server, "alertmanager"


@pytest.mark.parametrize("kind", ["promtool", "amtool"])
def test_the_check_timeout_setting_reaches_the_tool(tmp_path, monkeypatch, kind):
    provider, settings, check, module, setting = _configured(tmp_path, kind)
    settings["url"] = "http://127.0.0.1:9"
    assert not provider.configure(ConfigureRequest(settings=settings, options={})).diagnostics
    seen: list[float] = []

    def run(*args, timeout, **kwargs):
        seen.append(timeout)
        raise module.subprocess.TimeoutExpired(args[0], timeout)

    monkeypatch.setattr(module.subprocess, "run", run)
    with pytest.raises(Timeout, match=rf"within 1\.5s \(providers\.{setting}\.checkTimeout\)"):
        check()
    assert seen == [1.5]
