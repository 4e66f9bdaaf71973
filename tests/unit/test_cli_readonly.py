"""Read-only commands create nothing: run in a fresh directory they leave it byte-for-byte as it
was (no .ecpctl/, no state.db), and run over an existing state they change no byte of it and leave
no SQLite side files (-wal, -shm, -journal) behind."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fakes.provider import OVERRIDES

SPECS = Path(__file__).parent / "specs" / "basic"
DEPLOY = "tenant.acme.kubernetes.apps/v1.Deployment.callbot"

READ_ONLY = [
    ["validate", "specs"], ["validate", "specs", "--json"],
    ["calc", "specs"], ["calc", "specs", "--json"],
    ["state", "list"], ["state", "list", "--json"],
    ["state", "show", DEPLOY], ["state", "show", DEPLOY, "--json"],
    ["state", "history"], ["state", "history", "--json"],
    ["state", "pull"],
    ["tenants"], ["tenants", "--json"],
    ["workspace", "list"], ["workspace", "list", "--json"], ["workspace", "show"],
    ["status", "--path", "specs"], ["status", "--path", "specs", "--json"],
    ["graph", "specs"],
]


def tree(root: Path) -> dict[str, str]:
    """Every entry under root: directories by name, files by the sha256 of their bytes."""
    return {p.relative_to(root).as_posix(): ("dir" if p.is_dir()
                                             else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))}


def run(*args: str):
    """ecpctl as a user types it in the current directory: no --data-dir, the fake provider."""
    from ecpctl.cli.main import cli
    env = {"ECPCTL_PROVIDER_OVERRIDES": OVERRIDES, "NO_COLOR": "1", "ECPCTL_STATE_URL": None,
           "ECPCTL_WORKSPACE": None, "KUBECONFIG": None}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "work"
    shutil.copytree(SPECS, root / "specs")
    monkeypatch.chdir(root)
    monkeypatch.setenv("ECPCTL_FAKE_DIR", str(tmp_path / "live"))   # the fake cluster: outside
    return root


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_leaves_a_fresh_directory_unchanged(here, args):
    before = tree(here)
    r = run(*args)
    assert "Traceback" not in r.output
    assert r.exit_code in (0, 1), r.output     # state show and status fail here: that is fine
    assert tree(here) == before
    assert not (here / ".ecpctl").exists()


def test_read_only_commands_change_no_byte_of_an_existing_state(here):
    assert run("apply", "specs", "--auto-approve").exit_code == 0
    assert run("workspace", "new", "demo").exit_code == 0
    assert run("workspace", "select", "default").exit_code == 0
    before = tree(here)
    assert sorted(p for p in before if p.startswith(".ecpctl/")) == [
        ".ecpctl/state.db", ".ecpctl/workspace"]   # the writers closed: no side files
    for args in READ_ONLY:
        r = run(*args)
        assert r.exit_code in (0, 1) and "Traceback" not in r.output, (args, r.output)
        assert tree(here) == before, args
    assert run("state", "show", DEPLOY).exit_code == 0   # it did read the state


def test_the_empty_state_reads_like_a_state_with_nothing_in_it(here):
    assert run("state", "list").output == ""
    assert run("tenants").output == "No tenants in workspace default.\n"
    assert run("workspace", "list").output == "* default\n"
    assert "No versions of workspace default yet" in run("state", "history").output
    r = run("-w", "prod", "state", "list")
    assert r.exit_code == 1 and "workspace prod does not exist" in r.output
    assert not (here / ".ecpctl").exists()
