"""Start-up: each command imports only what it needs (the heavy libraries cost 0.1 to 0.2 s each,
paid on every run in CI). Each case runs the real command in a fresh interpreter and lists the
heavy modules it left in sys.modules. The times themselves are measured in tests/bench/startup.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("sqlalchemy", "networkx", "kubernetes", "psycopg", "httpx", "urllib3", "deepdiff",
         "cryptography", "rich", "pydantic", "ruamel.yaml", "yaml", "providers", "state",
         "ecpctl.schema_gen", "ecpctl.engine")

# what a live system, the state store or the graph would bring: spec-only commands never need it
BACKENDS = ("sqlalchemy", "networkx", "kubernetes", "psycopg", "httpx", "urllib3", "cryptography",
            "providers", "state", "ecpctl.engine")

RUN = """
import atexit, json, sys
HEAVY = {heavy!r}
atexit.register(lambda: open({report!r}, "w").write(json.dumps(
    [m for m in HEAVY if m in sys.modules])))
from ecpctl.cli.main import main
sys.argv = ["ecpctl", *{args!r}]
main()
"""


def loaded(args: list[str], cwd: Path) -> tuple[int, list[str], str]:
    """Exit code, heavy modules imported, and output of `ecpctl ARGS` in a new interpreter."""
    report = cwd / "modules.json"
    code = RUN.format(heavy=HEAVY, args=args, report=str(report))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("ECPCTL_LOG", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert report.exists(), proc.stdout
    return proc.returncode, json.loads(report.read_text()), proc.stdout


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_import_nothing_heavy(workdir, args):
    code, modules, output = loaded(args, workdir)
    assert code == 0, output
    assert modules == [], output


@pytest.mark.parametrize("args", [["plan", "--help"], ["apply", "--help"], ["state", "--help"]])
def test_a_commands_help_loads_no_backend(workdir, args):
    code, modules, output = loaded(args, workdir)
    assert code == 0 and "Usage: ecpctl" in output, output
    assert not set(modules) & set(BACKENDS), modules


@pytest.mark.parametrize("args", [["validate", "examples"], ["calc", "examples"],
                                  ["validate", "examples", "--json"]])
def test_spec_only_commands_load_no_backend(workdir, args):
    code, modules, output = loaded(args, workdir)
    assert code == 0, output
    assert not set(modules) & set(BACKENDS), modules
    assert "deepdiff" not in modules and "ecpctl.schema_gen" not in modules


def test_an_invalid_spec_loads_no_backend_either(workdir):
    bad = workdir / "examples" / "test-ai-service.yaml"
    bad.write_text(bad.read_text().replace("preset:", "preset: huge\n  x-preset:", 1))
    code, modules, output = loaded(["validate", "examples"], workdir)
    assert code == 1 and "test-ai-service.yaml:" in output, output
    assert not set(modules) & set(BACKENDS), modules


def test_an_offline_plan_contacts_no_live_system(workdir):
    code, modules, output = loaded(["plan", "--no-refresh", "examples"], workdir)
    assert code == 0, output
    # no refresh: neither the Kubernetes client nor an HTTP client is even imported; and a plan
    # builds no graph object, so networkx waits for an apply or `ecpctl graph`
    assert not {"kubernetes", "httpx", "urllib3", "networkx"} & set(modules), modules
