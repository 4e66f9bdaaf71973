"""Owner marks on Grafana dashboards and folders, through the CLI and the real Grafana provider
against the fake Grafana (Grafana cannot be installed here): two states of one workspace (two
lineages) writing the same tenant's dashboards, --adopt, a dashboard made by hand under ecpctl's
uid, a dashboard from before the marks that the state records, and two workspaces side by side
(their uids differ)."""

from __future__ import annotations

import pytest

from providers.grafana import marks
from tests.integration.test_grafana_alertmanager_cli import TOKEN_ENV, Cli
from tests.integration.monitoring_support import write_specs

pytestmark = pytest.mark.integration
TARGET = ("--target", "tenant.*.grafana.*")
WORKSPACE = "ops"
BOARD = f"ecp-acme-overview_ws-{WORKSPACE}"
FOLDER = f"ecp-ai-acme_ws-{WORKSPACE}"


class WorkspaceCli(Cli):
    """Workspaces of one state store (test_alertmanager_ownership.py)."""

    def run(self, workspace: str, *args: str):
        return self("--workspace", workspace, *args)

    def ok(self, workspace: str, *args: str):
        r = self.run(workspace, *args)
        assert r.exit_code == 0, r.output
        return r


class TwoStates:
    """Two states of one workspace, `blue` and `green` (as two laptops have, or a state deleted
    and made again): the same uids, two lineages, so two owners."""

    def __init__(self, root, env):
        self.clis = {who: Cli(root / f".ecpctl-{who}", env) for who in ("blue", "green")}
        for c in self.clis.values():
            r = c("workspace", "new", WORKSPACE)
            assert r.exit_code == 0, r.output

    def run(self, who: str, *args: str):
        return self.clis[who]("--workspace", WORKSPACE, *args)

    def ok(self, who: str, *args: str):
        r = self.run(who, *args)
        assert r.exit_code == 0, r.output
        return r


@pytest.fixture
def cli(tmp_path, fake_grafana, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, fake_grafana.token)
    return TwoStates(tmp_path, {TOKEN_ENV: fake_grafana.token})


@pytest.fixture
def specs(tmp_path, fake_grafana, webhook_sink):
    # only Grafana's resources are targeted: the Alertmanager settings are never used
    return write_specs(tmp_path / "specs", tenants=("acme",), sink=webhook_sink.base,
                       config_file=tmp_path / "unused-alertmanager.yml",
                       am_url="http://127.0.0.1:9", amtool="amtool", grafana_url=fake_grafana.url)


def _board(fake_grafana, uid=BOARD) -> dict:
    return fake_grafana.dashboards[uid]["json"]


def _apply(cli, workspace, specs, *args):
    return cli.ok(workspace, "apply", str(specs), "--auto-approve", *TARGET, *args)


def test_second_workspace_refused_then_adopts(cli, specs, fake_grafana):
    _apply(cli, "blue", specs)
    board = _board(fake_grafana)
    owner = board[marks.FIELD]
    assert owner["workspace"] == WORKSPACE and owner["lineage"]
    blue = f"owned by workspace {WORKSPACE!r} (state lineage {owner['lineage']})"
    assert "ecp-ai" in board["tags"]
    assert marks.tag_hash(board["tags"]) is not None
    versions = {u: d["version"] for u, d in fake_grafana.dashboards.items()}

    # the same tenant from another workspace: refused, naming the owner, nothing written
    for cmd in ("plan", "apply"):
        r = cli.run("green", cmd, str(specs), *TARGET, *(("--auto-approve",) if cmd == "apply"
                                                          else ()))
        assert r.exit_code == 1, r.output
        assert f"refusing to create over dashboard {BOARD}" in r.output
        assert blue in r.output
        assert "refusing to create over folder" in r.output
    assert {u: d["version"] for u, d in fake_grafana.dashboards.items()} == versions

    # --adopt takes it over, says so, and the marks change hands
    r = cli.ok("green", "plan", str(specs), *TARGET, "--adopt")
    assert f"adopted with --adopt ({blue}" in r.output
    _apply(cli, "green", specs, "--adopt")
    green = _board(fake_grafana)[marks.FIELD]["lineage"]
    assert green and green != owner["lineage"]
    assert [t for t in _board(fake_grafana)["tags"] if t.startswith(marks.TAG_PREFIX)] != \
        [t for t in board["tags"] if t.startswith(marks.TAG_PREFIX)]
    r = cli.ok("green", "plan", str(specs), *TARGET, "--detailed-exitcode")
    assert "No changes." in r.output

    # the first workspace may no longer change or delete them
    r = cli.run("blue", "destroy", str(specs), *TARGET, "--auto-approve")
    assert r.exit_code == 1, r.output
    assert f"refusing to delete dashboard {BOARD}" in r.output
    assert f"owned by workspace {WORKSPACE!r} (state lineage {green})" in r.output
    assert BOARD in fake_grafana.dashboards and FOLDER in fake_grafana.folders


def test_hand_made_dashboard_under_the_uid_is_refused_at_plan(cli, specs, fake_grafana):
    fake_grafana.save_dashboard({"dashboard": {"uid": BOARD, "title": "made by hand",
                                               "panels": []}})
    r = cli.run("blue", "plan", str(specs), *TARGET)
    assert r.exit_code == 1, r.output
    assert (f"refusing to create over dashboard {BOARD}: it already exists and carries no "
            "ecpctl owner mark") in r.output
    assert _board(fake_grafana)["title"] == "made by hand"
    _apply(cli, "blue", specs, "--adopt")
    assert _board(fake_grafana)[marks.FIELD]["workspace"] == WORKSPACE
    assert _board(fake_grafana)["title"] != "made by hand"


def test_unmarked_dashboard_in_state_gets_the_mark(cli, specs, fake_grafana):
    _apply(cli, "blue", specs)
    # as an ecpctl from before the marks left them: no owner tag, no owner field
    for d in fake_grafana.dashboards.values():
        j = d["json"]
        j.pop(marks.FIELD)
        j["tags"] = [t for t in j["tags"] if not t.startswith(marks.TAG_PREFIX)]
    r = cli.ok("blue", "plan", str(specs), *TARGET)
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in r.output
    # (state still records the marks here, so the plan reads as drift; from a state without
    # them the reason is update_owner_mark, as the Kubernetes and Postgres tests check)
    assert "ecpctlOwner" in r.output and marks.TAG_PREFIX in r.output
    _apply(cli, "blue", specs)
    assert all(d["json"][marks.FIELD]["workspace"] == WORKSPACE
               for d in fake_grafana.dashboards.values())
    r = cli.ok("blue", "plan", str(specs), *TARGET, "--detailed-exitcode")
    assert "No changes." in r.output
    # an unmarked dashboard no state records is another matter: refused in another workspace
    for d in fake_grafana.dashboards.values():
        d["json"].pop(marks.FIELD)
        d["json"]["tags"] = [t for t in d["json"]["tags"] if not t.startswith(marks.TAG_PREFIX)]
    r = cli.run("green", "plan", str(specs), *TARGET)
    assert r.exit_code == 1 and "carries no ecpctl owner mark" in r.output, r.output


def test_owner_tag_alone_still_names_this_state(cli, specs, fake_grafana):
    """A save from Grafana's UI drops fields it does not know: the tag still tells the owner."""
    _apply(cli, "blue", specs)
    lineage = _board(fake_grafana).pop(marks.FIELD)["lineage"]
    r = cli.ok("blue", "plan", str(specs), *TARGET)
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output     # the field put back
    r = cli.run("green", "plan", str(specs), *TARGET)
    assert r.exit_code == 1, r.output
    assert f"owned by workspace {WORKSPACE!r} (state lineage {lineage})" in r.output


def test_two_workspaces_side_by_side_on_one_grafana(tmp_path, specs, fake_grafana):
    """The same tenant in two workspaces of one state store against one Grafana: each has its own
    folder and dashboards; the default workspace keeps the uids of before; destroy in one leaves
    the other's untouched."""
    c = Cli(tmp_path / ".ecpctl-shared", {TOKEN_ENV: fake_grafana.token})
    for args in (("workspace", "new", "demo"),
                 ("--workspace", "default", "apply", str(specs), "--auto-approve", *TARGET),
                 ("--workspace", "demo", "apply", str(specs), "--auto-approve", *TARGET)):
        r = c(*args)
        assert r.exit_code == 0, r.output
    default = {"ecp-ai-acme": ("ecp-acme-overview", "ecp-acme-slo")}
    demo = {"ecp-ai-acme_ws-demo": ("ecp-acme-overview_ws-demo", "ecp-acme-slo_ws-demo")}
    assert set(fake_grafana.folders) == {*default, *demo}
    assert fake_grafana.folders["ecp-ai-acme"]["title"] == "ECP-AI / acme call center"
    assert fake_grafana.folders["ecp-ai-acme_ws-demo"]["title"] == "ECP-AI / acme call center [demo]"
    for ws, folders in (("default", default), ("demo", demo)):
        for folder, boards in folders.items():
            for uid in boards:
                d = fake_grafana.dashboards[uid]
                assert d["folder_uid"] == folder
                assert d["json"][marks.FIELD]["workspace"] == ws
    before = {u: d["version"] for u, d in fake_grafana.dashboards.items() if "_ws-" not in u}

    r = c("--workspace", "demo", "destroy", str(specs), "--auto-approve", *TARGET)
    assert r.exit_code == 0, r.output
    assert set(fake_grafana.folders) == set(default)
    assert {u: d["version"] for u, d in fake_grafana.dashboards.items()} == before
    r = c("--workspace", "default", "plan", str(specs), *TARGET, "--detailed-exitcode")
    assert r.exit_code == 0 and "No changes." in r.output, r.output


def test_no_refresh_destroy_refuses_dashboards_another_state_took(cli, specs, fake_grafana):
    """Offline, no plan read the dashboards first: each is read just before it is deleted."""
    _apply(cli, "green", specs)
    _apply(cli, "blue", specs, "--adopt")          # green's state still records them
    lineage = _board(fake_grafana)[marks.FIELD]["lineage"]
    versions = {u: d["version"] for u, d in fake_grafana.dashboards.items()}
    r = cli.run("green", "destroy", str(specs), *TARGET, "--auto-approve", "--no-refresh")
    assert r.exit_code == 1, r.output
    assert (f"refusing to delete dashboard {BOARD}: it is owned by workspace {WORKSPACE!r} "
            f"(state lineage {lineage})") in r.output, r.output
    assert {u: d["version"] for u, d in fake_grafana.dashboards.items()} == versions
    assert FOLDER in fake_grafana.folders         # skipped: its dashboards were refused
    # the owner's own offline destroy goes through the same reads
    cli.ok("blue", "destroy", str(specs), *TARGET, "--auto-approve", "--no-refresh")
    assert not fake_grafana.dashboards and not fake_grafana.folders
