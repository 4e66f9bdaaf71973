"""An unexpected exception anywhere in a command ends as one line, `internal error: ... (details
in <crash file>)`, exit code 1, never a traceback on the terminal; the crash file (mode 0600)
holds the traceback with every secret scrubbed.

No spec file may trigger one (that would be a bug to fix), so the failure is injected: a function
the command calls is replaced by one that raises, in-process and once in a real subprocess.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecpctl.kernel import scrub
from tests.unit.bad_input_cases import tenant

REMEMBERED = "tok-7f3a9c1e5b2d"        # a secret ecpctl learned (a token, a generated password)
DSN_PASSWORD = "pw-91c2e8aa"           # in a URL on the command line
PATTERN_PASSWORD = "hunter2-b71f"      # `password=...` inside an exception's text
SECRETS = (REMEMBERED, DSN_PASSWORD, PATTERN_PASSWORD)


def _boom(*args, **kwargs):
    api_key = REMEMBERED      # noqa: F841 - a local a richer crash report might show
    raise RuntimeError(f"sizing exploded: password={PATTERN_PASSWORD} token {REMEMBERED}\n"
                       "second line of the message")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    p = tmp_path / "t.yaml"
    p.write_text(tenant())
    return p


def _crash_file(line: str) -> Path:
    assert line.startswith("internal error: RuntimeError: sizing exploded"), line
    path = Path(line.rsplit("(details in ", 1)[1].rstrip(")"))
    assert path.is_file()
    return path


def _check_crash_file(path: Path) -> str:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "Traceback (most recent call last)" in text and "_boom" in text
    assert "command: " in text and "ecpctl " in text.splitlines()[0]
    for secret in SECRETS:
        assert secret not in text
    return text


@pytest.mark.parametrize("json_mode", [False, True], ids=["human", "json"])
def test_internal_error_in_process(spec: Path, tmp_path: Path, monkeypatch, json_mode: bool):
    from ecpctl.cli.main import cli
    import ecpctl.sizing
    crash_dir = tmp_path / "crash"
    monkeypatch.setenv("ECPCTL_CRASH_DIR", str(crash_dir))
    monkeypatch.setattr(ecpctl.sizing, "size_tenant", _boom)
    scrub.remember(REMEMBERED)
    try:
        args = ["calc", *(["--json"] if json_mode else []), str(spec)]
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        scrub.forget_all()
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("internal error:")]
    assert len(errors) == 1
    for secret in SECRETS:
        assert secret not in result.output
    assert "second line" not in result.output, "only the first line of the message is shown"
    if json_mode:
        doc = json.loads(result.stdout)
        assert doc["ok"] is False
        assert doc["diagnostics"][0]["summary"].startswith("internal error: RuntimeError")
    crash = _crash_file(errors[0])
    assert crash.parent == crash_dir
    _check_crash_file(crash)


def test_internal_error_in_a_real_process(spec: Path, tmp_path: Path):
    """The installed entry point, in its own process: stderr is one line, stdout is empty."""
    program = textwrap.dedent(f"""
        import sys
        import ecpctl.sizing
        from ecpctl.kernel import scrub
        from tests.unit.test_bad_input_crash import _boom
        ecpctl.sizing.size_tenant = _boom
        scrub.remember({REMEMBERED!r})
        sys.argv = ["ecpctl", "--state-url", "postgresql://ops:{DSN_PASSWORD}@db.example/s",
                    "calc", {str(spec)!r}]
        from ecpctl.cli.main import main
        main()
    """)
    env = {**os.environ, "ECPCTL_CRASH_DIR": str(tmp_path / "crash"), "NO_COLOR": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=60)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    text = _check_crash_file(_crash_file(lines[0]))
    assert "postgresql://ops:<redacted>@db.example/s" in text   # the command line, scrubbed
