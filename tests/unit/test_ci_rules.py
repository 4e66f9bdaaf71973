"""A CI run (`CI=true`) cannot pass without the real servers: pytest itself, in a subprocess,
refuses the skip switches and ECPCTL_UPDATE_EXPECTED before collecting, fails a run in which an
`integration` test was skipped, and refuses a test under tests/integration without the marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def pytest_run(args: list[str], env: dict[str, str], cwd: Path = REPO):
    full = {k: v for k, v in os.environ.items()
            if k not in ("CI", "ECPCTL_SKIP_KUBE", "ECPCTL_SKIP_POSTGRES",
                         "ECPCTL_SKIP_MONITORING", "ECPCTL_UPDATE_EXPECTED",
                         "ECPCTL_FAULT_KILLS")}
    full.update({"PYTHONPATH": str(REPO), **env})
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, env=full, cwd=cwd, timeout=300)


@pytest.mark.parametrize("switch", ["ECPCTL_SKIP_KUBE", "ECPCTL_SKIP_POSTGRES",
                                    "ECPCTL_SKIP_MONITORING", "ECPCTL_UPDATE_EXPECTED"])
def test_ci_refuses_the_switch(switch: str):
    r = pytest_run(["tests/unit/test_layers.py"], {"CI": "true", switch: "1"})
    assert r.returncode == pytest.ExitCode.USAGE_ERROR, r.stdout + r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and f"CI=true: {switch}=1" in errors[0], r.stderr
    assert "passed" not in r.stdout


@pytest.mark.parametrize("kills", ["3", "x"])
def test_ci_refuses_fewer_kills_per_path(kills: str):
    r = pytest_run(["tests/unit/test_layers.py"], {"CI": "true", "ECPCTL_FAULT_KILLS": kills})
    assert r.returncode == pytest.ExitCode.USAGE_ERROR, r.stdout + r.stderr
    assert f"ECPCTL_FAULT_KILLS={kills} would run fewer than 10 kills" in r.stderr
    assert "passed" not in r.stdout


def test_without_ci_the_switch_is_allowed():
    r = pytest_run(["tests/unit/test_layers.py", "-k", "contract"], {"ECPCTL_SKIP_KUBE": "1"})
    assert r.returncode == 0, r.stdout + r.stderr


def _project(tmp_path: Path, test_file: str, body: str) -> Path:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\np = tests.ci_rules\nmarkers =\n    integration: needs real servers\n")
    path = tmp_path / test_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("import pytest\n\n" + body)
    return path


SKIPPED_SERVER_TEST = ("@pytest.mark.integration\ndef test_needs_a_server():\n"
                       "    pytest.skip('server disabled')\n\n"
                       "def test_offline():\n    assert 1 + 1 == 2\n")


def test_ci_fails_a_run_that_skipped_a_server_test(tmp_path: Path):
    _project(tmp_path, "test_x.py", SKIPPED_SERVER_TEST)
    r = pytest_run(["-p", "tests.ci_rules", "test_x.py"], {"CI": "true"}, cwd=tmp_path)
    assert r.returncode == pytest.ExitCode.TESTS_FAILED, r.stdout + r.stderr
    assert ("CI=true: 1 test(s) that need real servers were skipped: "
            "test_x.py::test_needs_a_server") in r.stdout
    local = pytest_run(["-p", "tests.ci_rules", "test_x.py"], {}, cwd=tmp_path)
    assert local.returncode == 0, local.stdout    # outside CI a skip is a skip


def test_a_test_under_tests_integration_needs_the_marker(tmp_path: Path):
    _project(tmp_path, "tests/integration/test_y.py", "def test_unmarked():\n    pass\n")
    r = pytest_run(["-p", "tests.ci_rules", "tests/integration"], {}, cwd=tmp_path)
    assert r.returncode == pytest.ExitCode.USAGE_ERROR, r.stdout + r.stderr
    assert ("1 test(s) need a real server but lack @pytest.mark.integration "
            "(so `-m integration` would miss them): tests/integration/test_y.py::test_unmarked"
            ) in r.stderr
