"""Shared pytest setup: real-server fixtures come from tests/testenv plugins; tests/ci_rules.py
keeps a CI run from passing without the real servers."""

import importlib.util

pytest_plugins = ["tests.ci_rules"] + [
    name for name in ("tests.testenv.pytest_kube", "tests.testenv.pytest_postgres",
                      "tests.testenv.pytest_monitoring")
    if importlib.util.find_spec(name) is not None
]
