"""The layering contract of DESIGN.md (pyproject's tool.importlinter) holds, covers every module of
the engine, and fails when a lower layer imports a higher one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                           "lint_imports_command()"],
                          cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def _contracts() -> dict[str, dict]:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    return {c["id"]: c for c in doc["tool"]["importlinter"]["contracts"]}


def test_the_contract_is_kept():
    res = _lint_imports(REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_every_engine_module_is_above_the_kernel_in_the_contract():
    listed = set(_contracts()["providers-state"]["forbidden_modules"])
    present = {f"ecpctl.{p.stem if p.is_file() else p.name}" for p in (REPO / "ecpctl").iterdir()
               if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
               or (p.is_dir() and (p / "__init__.py").exists())}
    present.discard("ecpctl.kernel")
    assert present == listed, f"add to or remove from the contract: {present ^ listed}"


def test_an_upward_import_breaks_the_contract(tmp_path):
    for pkg in ("ecpctl", "providers", "state"):
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    records = tmp_path / "state" / "records.py"
    records.write_text(records.read_text() + "\nfrom ecpctl.planner import PlanOptions  # noqa\n")
    res = _lint_imports(tmp_path)
    assert res.returncode != 0
    assert "providers and state import only the kernel of ecpctl BROKEN" in res.stdout
    assert "state.records -> ecpctl.planner" in res.stdout
