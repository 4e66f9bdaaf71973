"""The console entry point leaves without the interpreter's teardown: its exit status, its output
and the exit handlers must be what a normal exit gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecpctl.cli.main import exit_code

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "ecpctl", *args]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_exit_status_is_the_commands(tmp_path: Path):
    assert run("--version").returncode == 0
    bad = tmp_path / "t.yaml"
    bad.write_text("apiVersion: ecp.ai/v1\nkind: Tenant\nmetadata: {name: x}\nspec: {presett: 1}\n")
    r = run("validate", str(bad))
    assert r.returncode == 1
    assert f"{bad}:4" in r.stdout + r.stderr and "presett" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    # a usage error is 1 too (2 is kept for `plan --detailed-exitcode`'s "changes present")
    r = run("plan", "--no-such-flag")
    assert r.returncode == 1 and "No such option '--no-such-flag'" in r.stderr


def test_all_output_reaches_a_pipe_before_the_process_ends():
    doc = run("calc", str(ROOT / "examples"), "--json")
    assert doc.returncode == 0, doc.stderr
    assert len(doc.stdout) > 10_000
    json.loads(doc.stdout)           # the whole document arrived: it parses


def test_exit_handlers_still_run():
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('handler ran', flush=True))\n"
            "sys.argv = ['ecpctl', '--version']\n"
            "from ecpctl.cli.main import main\n"
            "main()\n"
            "print('not reached')\n")
    r = run(code=code)
    assert r.returncode == 0
    assert r.stdout.splitlines() == [r.stdout.splitlines()[0], "handler ran"]
    assert r.stdout.startswith("ecpctl, version ")


@pytest.mark.parametrize("given, status", [(None, 0), (0, 0), (3, 3), (130, 130), ("text", 1)])
def test_exit_code_follows_sys_exit(given, status, capsys):
    assert exit_code(given) == status
    if isinstance(given, str):
        assert capsys.readouterr().err == "text\n"
