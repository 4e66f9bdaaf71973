"""The prometheus provider, rules file mode, against the sandbox's real Prometheus server and the
real promtool: apply writes one file per tenant that Prometheus loads (checked through
/api/v1/rules), a hand edit is drift, a rule promtool rejects and a reload Prometheus refuses
both leave the previous files in place and loaded."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import httpx
import pytest

from ecpctl.engine import desired_state
from ecpctl.kernel import ProviderError
from ecpctl.sandbox.prometheus import PrometheusServer
from providers.prometheus import PrometheusRulesProvider
from ecpctl.kernel.ownership import Owner
from providers.prometheus.provider import file_name, parse
from providers.protocol import ApplyRequest, ConfigureRequest, DeleteRequest, ReadRequest

pytestmark = pytest.mark.integration

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata: {{name: rules-file-tests}}
spec:
  providers:
    prometheus: {{url: "{url}", rulesDir: "{rules_dir}"}}
  monitoring: {{rulesMode: file, alertmanagerMode: file}}
"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata: {{name: {name}}}
spec:
  services: {{chatbot: 10, stt: 5}}
  sla: {{availability: "{availability}", responseTime: 150ms}}
  database: {{enabled: false}}
  monitoring:
    alerts:
      - name: high_cpu_usage
        condition: cpu_usage > 80
        for: 5m
"""


@pytest.fixture
def prometheus(tmp_path, promtool):
    with PrometheusServer(tmp_path / "prometheus") as prom:
        yield prom


def rules_of(specs: Path, tenant: str):
    return next(r for r in desired_state(specs).resources
                if r.provider == "prometheus" and r.name == tenant)


def write_specs(root: Path, prom: PrometheusServer, availability: str = "99.5%",
                tenants=("acme", "globex")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.yaml").write_text(PROJECT.format(url=prom.url, rules_dir=prom.rules_dir))
    for t in tenants:
        (root / f"{t}.yaml").write_text(TENANT.format(name=t, availability=availability))
    return root


def provider(prom: PrometheusServer, promtool: str) -> PrometheusRulesProvider:
    p = PrometheusRulesProvider()
    resp = p.configure(ConfigureRequest(settings={"url": prom.url, "rulesDir": str(prom.rules_dir),
                                                  "promtool": promtool}, options={}))
    assert not resp.diagnostics, resp.diagnostics
    return p


def loaded(prom: PrometheusServer) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """file name -> [(group, rule names)] as the running Prometheus reports them."""
    groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    out: dict[str, list] = {}
    for g in groups:
        out.setdefault(Path(g["file"]).name, []).append(
            (g["name"], tuple(r["name"] for r in g["rules"])))
    return {k: sorted(v) for k, v in out.items()}


def shape(resource) -> list[tuple[str, tuple[str, ...]]]:
    return sorted((g["name"], tuple(r.get("alert") or r["record"] for r in g["rules"]))
                  for g in resource.attributes["groups"])


def test_apply_writes_checks_reloads_and_prometheus_loads_exactly_those_groups(
        tmp_path, prometheus, promtool):
    specs = write_specs(tmp_path / "specs", prometheus)
    p = provider(prometheus, promtool)
    acme, globex = rules_of(specs, "acme"), rules_of(specs, "globex")
    for r in (acme, globex):
        p.apply(ApplyRequest(desired=r, prior=None, live=None))
    files = sorted(f.name for f in prometheus.rules_dir.iterdir())
    assert files == ["ecp-ai-acme.yml", "ecp-ai-globex.yml"]   # no check or temp files left
    running = loaded(prometheus)
    assert running["ecp-ai-acme.yml"] == shape(acme)
    assert running["ecp-ai-globex.yml"] == shape(globex)
    names = {n for g in running["ecp-ai-acme.yml"] for n in g[1]}
    assert {"cpu_usage", "memory_usage", "gpu_usage", "ServiceDown", "LatencyAboveSLA",
            "ErrorBudgetBurn", "high_cpu_usage"} <= names

    # read sees what is on disk, equal to what was applied: no drift
    live = p.read(ReadRequest(desired=[acme, globex], prior=[])).live
    assert {lo.observed["groups"] == r.attributes["groups"]
            for lo, r in zip(live.values(), (acme, globex))} == {True}

    # a changed target rewrites the file, and Prometheus loads the new thresholds
    specs = write_specs(tmp_path / "specs", prometheus, availability="99.9%")
    stricter = rules_of(specs, "acme")
    p.apply(ApplyRequest(desired=stricter, prior=None, live=None))
    text = (prometheus.rules_dir / file_name("acme")).read_text()
    assert "> 0.0144" in text and "> 0.072" not in text
    rules = httpx.get(f"{prometheus.url}/api/v1/rules", params={"type": "alert"},
                      timeout=10).json()["data"]["groups"]
    burn = [r["query"] for g in rules if g["file"].endswith(file_name("acme"))
            for r in g["rules"] if r["name"] == "ErrorBudgetBurn"]
    assert burn and all("0.0144" in q or "0.006" in q or "0.003" in q or "0.001" in q
                        for q in burn)

    # delete removes the file and its groups from the running Prometheus, the other stays
    state = p.apply(ApplyRequest(desired=stricter, prior=None, live=None)).state
    p.delete(DeleteRequest(prior=state))
    assert not (prometheus.rules_dir / file_name("acme")).exists()
    assert set(loaded(prometheus)) == {"ecp-ai-globex.yml"}
    p.close()


def test_a_hand_edit_is_drift_and_apply_reverts_it(tmp_path, prometheus, promtool):
    specs = write_specs(tmp_path / "specs", prometheus, tenants=("acme",))
    p = provider(prometheus, promtool)
    acme = rules_of(specs, "acme")
    p.apply(ApplyRequest(desired=acme, prior=None, live=None))
    path = prometheus.rules_dir / file_name("acme")
    edited = path.read_text().replace('cpu_usage{tenant_id="acme"} > 80',
                                      'cpu_usage{tenant_id="acme"} > 99')
    assert edited != path.read_text()
    path.write_text(edited)

    live = p.read(ReadRequest(desired=[acme], prior=[])).live
    (observed,) = [lo.observed for lo in live.values()]
    assert observed["groups"] != acme.attributes["groups"]
    custom = [r for g in observed["groups"] for r in g["rules"] if r.get("alert") == "high_cpu_usage"]
    assert "> 99" in custom[0]["expr"]

    p.apply(ApplyRequest(desired=acme, prior=None, live=None))
    assert 'cpu_usage{tenant_id="acme"} > 80' in path.read_text()
    (observed,) = [lo.observed for lo in p.read(ReadRequest(desired=[acme], prior=[])).live.values()]
    assert observed["groups"] == acme.attributes["groups"]

    # a file ecpctl cannot parse is drift too, never a crash
    path.write_text("groups: [unclosed\n")
    (observed,) = [lo.observed for lo in p.read(ReadRequest(desired=[acme], prior=[])).live.values()]
    assert observed["groups"] == [] and observed["unreadable"]
    p.close()


def _broken(resource, expr: str):
    groups = [dict(g, rules=[dict(r) for r in g["rules"]]) for g in resource.attributes["groups"]]
    groups[-1]["rules"][0]["expr"] = expr
    return dataclasses.replace(resource, attributes={"groups": groups})


def test_a_rule_promtool_rejects_is_refused_and_the_previous_file_kept(
        tmp_path, prometheus, promtool):
    specs = write_specs(tmp_path / "specs", prometheus, tenants=("acme",))
    p = provider(prometheus, promtool)
    acme = rules_of(specs, "acme")
    p.apply(ApplyRequest(desired=acme, prior=None, live=None))
    path = prometheus.rules_dir / file_name("acme")
    before, running = path.read_text(), loaded(prometheus)

    with pytest.raises(ProviderError) as info:
        p.apply(ApplyRequest(desired=_broken(acme, "sum(rate(x[5m]) >"), prior=None, live=None))
    msg = str(info.value)
    assert "promtool check rules rejects ecp-ai-acme.yml" in msg
    assert str(prometheus.rules_dir) not in msg      # named as the file, not the temp copy
    assert path.read_text() == before
    assert loaded(prometheus) == running
    assert sorted(f.name for f in prometheus.rules_dir.iterdir()) == ["ecp-ai-acme.yml"]
    p.close()


def test_a_reload_prometheus_refuses_restores_the_previous_files(tmp_path, prometheus, promtool):
    specs = write_specs(tmp_path / "specs", prometheus)
    p = provider(prometheus, promtool)
    acme, globex = rules_of(specs, "acme"), rules_of(specs, "globex")
    for r in (acme, globex):
        p.apply(ApplyRequest(desired=r, prior=None, live=None))
    before = {f.name: f.read_text() for f in prometheus.rules_dir.iterdir()}
    running = loaded(prometheus)

    # a promtool that accepts everything lets a rule through that the server then refuses
    yes = tmp_path / "promtool-yes"
    yes.write_text("#!/bin/sh\nexit 0\n")
    yes.chmod(yes.stat().st_mode | stat.S_IXUSR)
    lenient = provider(prometheus, str(yes))
    with pytest.raises(ProviderError) as info:
        lenient.apply(ApplyRequest(desired=_broken(acme, "sum(rate(x[5m]) >"), prior=None,
                                   live=None))
    msg = str(info.value)
    assert "Prometheus refused to reload" in msg
    assert "the previous rule files were restored and Prometheus reloaded" in msg
    assert {f.name: f.read_text() for f in prometheus.rules_dir.iterdir()} == before
    assert loaded(prometheus) == running
    # and the next good apply goes through as usual
    p.apply(ApplyRequest(desired=acme, prior=None, live=None))
    assert loaded(prometheus) == running
    p.close()
    lenient.close()


def test_a_prometheus_that_does_not_load_the_directory_is_caught(tmp_path, prometheus, promtool):
    """rulesDir pointing at a directory this Prometheus does not load: verification fails and
    nothing is left behind."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    specs = write_specs(tmp_path / "specs", prometheus, tenants=("acme",))
    p = PrometheusRulesProvider()
    assert not p.configure(ConfigureRequest(settings={
        "url": prometheus.url, "rulesDir": str(other), "promtool": promtool},
        options={})).diagnostics
    with pytest.raises(ProviderError) as info:
        p.apply(ApplyRequest(desired=rules_of(specs, "acme"), prior=None, live=None))
    assert "did not load ecp-ai-acme.yml as written" in str(info.value)
    assert list(other.iterdir()) == []
    p.close()


def test_configure_names_what_is_missing(tmp_path):
    p = PrometheusRulesProvider()
    diags = p.configure(ConfigureRequest(settings={"promtool": str(tmp_path / "nope")},
                                         options={})).diagnostics
    text = " | ".join(d.summary for d in diags)
    assert "rulesDir is not set" in text and "url is not set" in text and "not found" in text
    parse("groups: []\n")


# --- owners and workspaces ---------------------------------------------------------------------

# the CLI finds promtool through the Project
CLI_PROJECT = PROJECT.replace('rulesDir: "{rules_dir}"', 'rulesDir: "{rules_dir}", '
                              'promtool: "{promtool}"')
RULES_ONLY = ("--target", "tenant.*.prometheus.*")


class StateCli:
    """ecpctl in-process with its own state directory (a laptop of its own: its own lineages)."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir

    def __call__(self, workspace: str, *args: str):
        from click.testing import CliRunner

        from ecpctl.cli.main import cli
        return CliRunner().invoke(cli, ["--data-dir", str(self.data_dir), "--workspace",
                                        workspace, *args],
                                  env={"ECPCTL_PROVIDER_OVERRIDES": "", "NO_COLOR": "1",
                                       "COLUMNS": "250", "ECPCTL_WORKSPACE": None,
                                       "ECPCTL_STATE_URL": None},
                                  catch_exceptions=False)

    def ok(self, workspace: str, *args: str):
        r = self(workspace, *args)
        assert r.exit_code == 0, r.output
        return r


def _cli_specs(root: Path, prom: PrometheusServer, promtool: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.yaml").write_text(CLI_PROJECT.format(url=prom.url, rules_dir=prom.rules_dir,
                                                          promtool=promtool))
    (root / "acme.yaml").write_text(TENANT.format(name="acme", availability="99.5%"))
    return root


def _owner_line(path: Path) -> str:
    return next(line for line in path.read_text().splitlines() if "ecpctl owner:" in line)


def test_two_workspaces_write_their_own_files_and_destroy_leaves_the_other(
        tmp_path, prometheus, promtool):
    specs = _cli_specs(tmp_path / "specs", prometheus, promtool)
    cli = StateCli(tmp_path / ".ecpctl")
    cli.ok("default", "workspace", "new", "demo")
    for ws in ("default", "demo"):
        cli.ok(ws, "apply", str(specs), "--auto-approve", *RULES_ONLY)
    # the default workspace keeps the name of before; each file names its owner
    files = sorted(f.name for f in prometheus.rules_dir.iterdir())
    assert files == ["ecp-ai-acme.yml", "ecp-ai-acme_ws-demo.yml"]
    assert _owner_line(prometheus.rules_dir / "ecp-ai-acme.yml").startswith(
        "# ecpctl owner: workspace=default lineage=")
    assert _owner_line(prometheus.rules_dir / "ecp-ai-acme_ws-demo.yml").startswith(
        "# ecpctl owner: workspace=demo lineage=")
    running = loaded(prometheus)
    assert set(running) == set(files) and running[files[0]] == running[files[1]]
    for ws in ("default", "demo"):
        r = cli.ok(ws, "plan", str(specs), *RULES_ONLY, "--detailed-exitcode")
        assert "No changes." in r.output

    cli.ok("demo", "destroy", str(specs), "--auto-approve", *RULES_ONLY)
    assert sorted(f.name for f in prometheus.rules_dir.iterdir()) == ["ecp-ai-acme.yml"]
    assert set(loaded(prometheus)) == {"ecp-ai-acme.yml"}


def test_a_file_another_lineage_owns_is_refused_naming_the_owner(tmp_path, prometheus, promtool):
    specs = _cli_specs(tmp_path / "specs", prometheus, promtool)
    blue, green = StateCli(tmp_path / ".ecpctl-blue"), StateCli(tmp_path / ".ecpctl-green")
    for c in (blue, green):
        c.ok("default", "workspace", "new", "ops")
    blue.ok("ops", "apply", str(specs), "--auto-approve", *RULES_ONLY)
    path = prometheus.rules_dir / "ecp-ai-acme_ws-ops.yml"
    mark = _owner_line(path)
    lineage = mark.rpartition("lineage=")[2]
    assert lineage
    before = path.read_text()
    owned = f"it is owned by workspace 'ops' (state lineage {lineage})"

    # the same workspace name from another state: refused at plan and apply, the file kept
    for cmd in (("plan",), ("apply", "--auto-approve")):
        r = green("ops", cmd[0], str(specs), *cmd[1:], *RULES_ONLY)
        assert r.exit_code == 1, r.output
        assert f"refusing to create over rules acme: {owned}" in r.output
    assert path.read_text() == before

    # --adopt takes it over; then the first state may neither change nor delete it
    r = green.ok("ops", "plan", str(specs), *RULES_ONLY, "--adopt")
    assert "adopted with --adopt (owned by workspace 'ops'" in r.output
    green.ok("ops", "apply", str(specs), "--auto-approve", *RULES_ONLY, "--adopt")
    assert _owner_line(path) != mark
    r = blue("ops", "destroy", str(specs), "--auto-approve", *RULES_ONLY)
    assert r.exit_code == 1 and "refusing to delete rules acme: it is owned by" in r.output
    # not even offline, where no plan read the file first: the transaction checks it
    r = blue("ops", "destroy", str(specs), "--auto-approve", "--no-refresh", *RULES_ONLY)
    assert r.exit_code == 1, r.output
    assert "refusing to delete rules file ecp-ai-acme_ws-ops.yml: it is owned by" in r.output
    assert path.exists() and set(loaded(prometheus)) == {path.name}

    # a file of the tenant's name that no ecpctl marked is never taken silently
    green.ok("ops", "destroy", str(specs), "--auto-approve", *RULES_ONLY)
    path.write_text("groups: []\n")
    r = green("ops", "plan", str(specs), *RULES_ONLY)
    assert r.exit_code == 1
    assert "refusing to create over rules acme: it already exists and carries no ecpctl owner " \
        "mark" in r.output


def test_an_earlier_versions_file_moves_to_the_workspaces_name(tmp_path, prometheus, promtool):
    """A workspace other than default that wrote `ecp-ai-<tenant>.yml` with an earlier version
    (no mark, no file name in state): apply writes its own file and removes the old one in the
    same reload, so the rules are never loaded twice."""
    specs = write_specs(tmp_path / "specs", prometheus, tenants=("acme",))
    acme = rules_of(specs, "acme")
    old = provider(prometheus, promtool)          # no owner: what an earlier version wrote
    state = old.apply(ApplyRequest(desired=acme, prior=None, live=None)).state
    legacy = dataclasses.replace(state, private={})
    assert set(loaded(prometheus)) == {"ecp-ai-acme.yml"}

    p = provider(prometheus, promtool)
    p.set_owner(Owner("demo", "lineage-1"))
    live = p.read(ReadRequest(desired=[acme], prior=[legacy])).live
    (lo,) = live.values()
    assert lo.owner is None and lo.observed["groups"] == acme.attributes["groups"]
    new = p.apply(ApplyRequest(desired=acme, prior=legacy, live=lo)).state
    assert new.private["file"] == "ecp-ai-acme_ws-demo.yml"
    assert sorted(f.name for f in prometheus.rules_dir.iterdir()) == ["ecp-ai-acme_ws-demo.yml"]
    assert set(loaded(prometheus)) == {"ecp-ai-acme_ws-demo.yml"}
    (lo,) = p.read(ReadRequest(desired=[acme], prior=[new])).live.values()
    assert lo.owner == Owner("demo", "lineage-1")
    p.delete(DeleteRequest(prior=new))
    assert list(prometheus.rules_dir.iterdir()) == [] and loaded(prometheus) == {}
    old.close()
    p.close()


def test_an_earlier_versions_file_the_default_workspace_marked_is_left_to_it(
        tmp_path, prometheus, promtool):
    specs = write_specs(tmp_path / "specs", prometheus, tenants=("acme",))
    acme = rules_of(specs, "acme")
    old = provider(prometheus, promtool)
    legacy = dataclasses.replace(old.apply(ApplyRequest(desired=acme, prior=None,
                                                         live=None)).state, private={})
    default = provider(prometheus, promtool)
    default.set_owner(Owner("default", "lineage-d"))
    default.apply(ApplyRequest(desired=acme, prior=legacy, live=None))      # marks it default's
    demo = provider(prometheus, promtool)
    demo.set_owner(Owner("demo", "lineage-1"))
    # demo's state still records ecp-ai-acme.yml, now default's: demo's own file is not there yet
    assert demo.read(ReadRequest(desired=[acme], prior=[legacy])).live == {}
    demo.apply(ApplyRequest(desired=acme, prior=legacy, live=None))
    assert sorted(f.name for f in prometheus.rules_dir.iterdir()) == \
        ["ecp-ai-acme.yml", "ecp-ai-acme_ws-demo.yml"]
    assert _owner_line(prometheus.rules_dir / "ecp-ai-acme.yml").endswith("lineage=lineage-d")
    for p in (old, default, demo):
        p.close()
