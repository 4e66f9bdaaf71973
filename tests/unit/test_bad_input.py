"""Every malformed or hostile spec through validate, calc, plan (without and with refresh, the
latter against the fake provider) and apply: exactly the expected `file:line:col: field: message`
lines, exit code 1, no traceback, and nothing written: no state, no live object, no file where
ecpctl ran.

The corpus is the fixtures of tests/unit/malformed (see test_config_malformed.py) and the cases
built at run time in bad_input_cases.py. Speed and memory over the corpus are measured by
`python -m tests.bench.bad_input`, not asserted here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fakes.provider import OVERRIDES
from tests.unit.bad_input_cases import CASES as BUILT
from tests.unit.test_config_malformed import CASES as FIXTURES, _expectations

COMMANDS = {
    "validate": ["validate"],
    "calc": ["calc"],
    "plan-no-refresh": ["plan", "--no-refresh"],
    "plan-refresh": ["plan"],
    "apply": ["apply", "--auto-approve"],
}
ALL = [(c.name, c, None) for c in FIXTURES] + [(c.name, None, c) for c in BUILT]


def test_corpus_size():
    assert len(ALL) >= 95, len(ALL)


def run(args: list[str], root: Path, env: dict[str, str]):
    """ecpctl in-process, in an empty working directory, with its data dir and the fake
    provider's live objects under `root`."""
    from ecpctl.cli.main import cli
    cwd = root / "cwd"
    cwd.mkdir()
    full_env = {"ECPCTL_PROVIDER_OVERRIDES": OVERRIDES, "ECPCTL_FAKE_DIR": str(root / "live"),
                "NO_COLOR": "1", **env}
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, ["--data-dir", str(root / ".ecpctl"), *args],
                                  env=full_env, catch_exceptions=True)
    finally:
        os.chdir(old)


def error_lines(output: str) -> list[str]:
    return [line.removeprefix("Error: ") for line in output.splitlines()
            if line.startswith("Error: ")]


@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
@pytest.mark.parametrize("name,fixture,built", ALL, ids=[a[0] for a in ALL])
def test_bad_input(name, fixture, built, command: str, tmp_path: Path, monkeypatch):
    inputs = tmp_path / "in"
    inputs.mkdir()
    if fixture is not None:
        given, expected, env = str(fixture), _expectations(fixture), {}
    else:
        b = built.build(inputs)
        given, expected, env = b.path, b.expected, b.env
    expected = [line.replace("$PATH", given) for line in expected]
    root = tmp_path / "run"
    root.mkdir()
    monkeypatch.setenv("ECPCTL_CRASH_DIR", str(root / "crash"))
    result = run([*COMMANDS[command], given], root, env)

    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert error_lines(result.output) == expected
    assert "\x1b" not in result.output, "no control character reaches the terminal"
    written = sorted(p.name for p in root.iterdir() if p.name != "cwd")
    assert written == [], "nothing may be written: no state, no live object, no crash file"
    assert list((root / "cwd").iterdir()) == []
