"""Every third-party module the code imports is declared in pyproject.toml: the package's own
modules in `dependencies`, the tests' in `dependencies` or the `test` extra. An undeclared import
works on the machine that happens to have it and fails on a user's fresh install."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = {"ecpctl", "providers", "state", "tests"}


def imported(*folders: str) -> dict[str, set[str]]:
    """Top-level module -> files importing it (absolute imports, anywhere in the file)."""
    out: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    out.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return {m: files for m, files in out.items()
            if m not in OWN and m not in sys.stdlib_module_names and m != "__future__"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()     # PEP 503


def declared(*groups: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for group in groups:
        reqs += project["optional-dependencies"][group]
    return {canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in reqs}


def undeclared(modules: dict[str, set[str]], names: set[str]) -> dict[str, list[str]]:
    dists = packages_distributions()
    missing = {}
    for module, files in sorted(modules.items()):
        provided_by = {canonical(d) for d in dists.get(module, [])}
        if not provided_by & names:
            missing[module] = sorted(files)[:3]
    return missing


def test_the_package_imports_only_declared_dependencies():
    assert undeclared(imported("ecpctl", "providers", "state"), declared()) == {}


def test_the_tests_import_only_declared_dependencies():
    assert undeclared(imported("tests"), declared("test")) == {}
