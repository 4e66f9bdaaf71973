"""Malformed spec files through the real CLI: exit 1, exactly the expected `file:line:col: field:
message` lines, no traceback, nothing written.

Each `malformed/NAME.yaml` starts with `# expect: ...` lines; each `malformed/NAME/` directory has an
EXPECT file. `$PATH` stands for the path given on the command line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecpctl.cli.main import cli

HERE = Path(__file__).parent / "malformed"
EXPECT_PREFIX = b"# expect: "


def _expectations(case: Path) -> list[str]:
    if case.is_dir():
        return (case / "EXPECT").read_text(encoding="utf-8").splitlines()
    out = []
    for raw in case.read_bytes().splitlines():
        if not raw.startswith(EXPECT_PREFIX):
            break
        out.append(raw[len(EXPECT_PREFIX):].decode("utf-8"))
    return out


CASES = sorted([*HERE.glob("*.yaml"), *(p for p in HERE.iterdir() if p.is_dir())])


def test_enough_cases():
    assert len(CASES) >= 35
    assert all(_expectations(c) for c in CASES), "every fixture names its expected errors"


def _run(args: list[str], cwd: Path):
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, args, catch_exceptions=True)
    finally:
        os.chdir(old)


def _error_lines(result) -> list[str]:
    return [line.removeprefix("Error: ") for line in result.output.splitlines()
            if line.startswith("Error: ")]


@pytest.mark.parametrize("command", [["validate"], ["calc"], ["calc", "--json"]],
                         ids=["validate", "calc", "calc-json"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_spec(case: Path, command: list[str], tmp_path: Path):
    given = str(case)
    expected = [line.replace("$PATH", given) for line in _expectations(case)]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = _run([*command, given], cwd)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert _error_lines(result) == expected
    assert list(cwd.iterdir()) == [], "loading a spec must not write files"
    assert "Success" not in result.output


def test_relative_path_is_shown_as_given(tmp_path: Path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "acme.yaml").write_text(
        "apiVersion: ecp.ai/v1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n"
        "  services:\n    callbot: -1\n  sla: {availability: 99.9}\n")
    result = _run(["validate", "specs"], tmp_path)
    assert result.exit_code == 1
    assert _error_lines(result) == [
        "specs/acme.yaml:7:14: spec.services.callbot: must be a whole number >= 0"]


def test_missing_path(tmp_path: Path):
    result = _run(["validate", "no-such-dir"], tmp_path)
    assert result.exit_code == 1
    assert _error_lines(result) == ["no-such-dir: no such file or directory"]
    assert list(tmp_path.iterdir()) == []


def test_errors_from_several_files_are_all_reported(tmp_path: Path):
    for name, line in (("a.yaml", "callbot: -1"), ("b.yaml", "chatbot: 1.5")):
        (tmp_path / name).write_text(
            f"apiVersion: ecp.ai/v1\nkind: Tenant\nmetadata:\n  name: {name[0]}\nspec:\n"
            f"  services:\n    {line}\n  sla: {{availability: 99.9}}\n")
    result = _run(["validate", "."], tmp_path)
    assert result.exit_code == 1
    assert _error_lines(result) == [
        "a.yaml:7:14: spec.services.callbot: must be a whole number >= 0",
        "b.yaml:7:14: spec.services.chatbot: must be a whole number >= 0",
    ]


def test_empty_file_is_a_warning(tmp_path: Path):
    (tmp_path / "empty.yaml").write_text("# nothing here yet\n")
    (tmp_path / "t.yaml").write_text(
        "apiVersion: ecp.ai/v1\nkind: Tenant\nmetadata:\n  name: t\nspec:\n"
        "  services: {chatbot: 1}\n  sla: {availability: 99.5}\n")
    result = _run(["validate", "."], tmp_path)
    assert result.exit_code == 0, result.output
    assert "Warning: empty.yaml: file contains no YAML documents; ignored" in result.output
    assert "Success! 1 tenant, 0 projects in . are valid." in result.output
