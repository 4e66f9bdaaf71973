"""The CLI's contract: the lazy command map tells the truth, Terraform's spellings are read as
typed or refused, and usage errors never exit 2 (which `--detailed-exitcode` reserves)."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from ecpctl.cli.main import COMMANDS, cli


def test_each_lazy_help_line_is_the_commands_own():
    ctx = click.Context(cli)
    for name, (_, help_line) in COMMANDS.items():
        assert cli.get_command(ctx, name).get_short_help_str(80) == help_line, name


def test_version_imports_nothing_heavy():
    # main() leaves the process itself (ecpctl.cli.main.leave), so the report is an exit handler
    code = ("import atexit, sys\nfrom ecpctl.cli.main import main\nsys.argv=['ecpctl','--version']\n"
            "atexit.register(lambda: print([m for m in ('sqlalchemy','networkx','pydantic',"
            "'kubernetes','rich','deepdiff','psycopg','httpx','ruamel.yaml','providers','state') "
            "if m in sys.modules]))\n"
            "main()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("typed, message", [
    ("-otfplan", "-otfplan: unknown option"),
    ("-no-color", "set NO_COLOR=1"),
    ("-var=x=1", "tenant specs have no variables"),
    ("-refresh=maybe", "expected -refresh=true or -refresh=false"),
])
def test_unreadable_single_dash_options_are_refused_in_one_line(ecpctl, typed, message):
    r = ecpctl("plan", "--no-refresh", str(_examples()), typed)
    assert r.exit_code == 1
    assert message in r.output
    assert not (ecpctl.root / "tfplan").exists() and not (ecpctl.root / "ut=tfplan").exists()


@pytest.mark.parametrize("typed", ["-o=tfplan", "-o", "--out=tfplan"])
def test_a_short_option_glued_to_equals_is_read_as_option_and_value(ecpctl, typed, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [typed, "tfplan"] if typed == "-o" else [typed]
    r = ecpctl("plan", "--no-refresh", str(_examples()), *args)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "tfplan").is_file()
    assert not (tmp_path / "=tfplan").exists()


def _examples():
    from pathlib import Path
    return Path(__file__).resolve().parents[2] / "examples"


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """`ecpctl plan ... | head -2`: no internal error, no traceback, no crash file; exit 141."""
    proc = subprocess.Popen([sys.executable, "-m", "ecpctl", "plan", str(_examples()), "--no-refresh",
                             "--full"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "ECPCTL_CRASH_DIR": str(tmp_path / "crash"),
                                 "PYTHONPATH": str(_examples().parent), "NO_COLOR": "1"})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "crash").exists()
