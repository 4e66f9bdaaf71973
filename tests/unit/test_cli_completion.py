"""Shell completion (docs/shell-completion.md): the scripts for bash, zsh and fish, and completion
of commands, workspaces and state addresses, exactly as a shell asks for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ecpctl(cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **env}
    for var in ("ECPCTL_STATE_URL", "ECPCTL_WORKSPACE"):
        full.pop(var, None)
    return subprocess.run([sys.executable, "-m", "ecpctl"], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=60)


def complete(cwd: Path, line: str) -> list[str]:
    """What bash's completion function gets for `line` (the word under the cursor is the last)."""
    words = line.split(" ")
    r = ecpctl(cwd, _ECPCTL_COMPLETE="bash_complete", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    assert r.returncode == 0, r.stderr
    return [item.split(",", 1)[1] for item in r.stdout.splitlines() if item]


@pytest.mark.parametrize("shell, marker", [
    ("bash", "complete -o nosort -F _ecpctl_completion ecpctl"),
    ("zsh", "#compdef ecpctl"),
    ("fish", "complete --no-files --command ecpctl"),
])
def test_the_completion_script_is_produced(tmp_path, shell, marker):
    r = ecpctl(tmp_path, _ECPCTL_COMPLETE=f"{shell}_source")
    assert r.returncode == 0, r.stderr
    assert marker in r.stdout
    assert "_ECPCTL_COMPLETE" in r.stdout
    assert list(tmp_path.iterdir()) == []


def test_commands_and_subcommands_complete(tmp_path):
    assert complete(tmp_path, "ecpctl sta") == ["state", "status"]
    assert complete(tmp_path, "ecpctl state h") == ["history"]
    assert "--json" in complete(tmp_path, "ecpctl state list --")


def test_addresses_and_workspaces_complete_from_state_without_creating_it(tmp_path):
    assert complete(tmp_path, "ecpctl state show tenant.") == []
    assert complete(tmp_path, "ecpctl workspace select ") == ["default"]
    assert list(tmp_path.iterdir()) == []          # completing created no state

    from ecpctl.kernel import ResourceState
    from state.store import StateStore
    with StateStore.open(None, data_dir=tmp_path / ".ecpctl") as store:
        for name in ("callbot", "chatbot"):
            store.put_resource("default", ResourceState.from_dict({
                "address": f"tenant.acme.kubernetes.v1.Service.{name}", "provider": "kubernetes",
                "type": "v1.Service", "name": name, "tenant": "acme"}))
        store.create_workspace("demo")
    assert complete(tmp_path, "ecpctl state show tenant.acme.kubernetes.v1.Service.c") == [
        "tenant.acme.kubernetes.v1.Service.callbot", "tenant.acme.kubernetes.v1.Service.chatbot"]
    assert complete(tmp_path, "ecpctl state rm tenant.acme.kubernetes.v1.Service.ch") == [
        "tenant.acme.kubernetes.v1.Service.chatbot"]
    assert complete(tmp_path, "ecpctl workspace select ") == ["default", "demo"]
    # --data-dir typed earlier on the line is honoured
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert complete(elsewhere, "ecpctl --data-dir ../.ecpctl workspace delete d") == [
        "default", "demo"]


def test_completion_is_silent_when_state_cannot_be_read(tmp_path):
    assert complete(tmp_path, "ecpctl --state-url mysql://x/y state show t") == []
