"""Shared pytest setup: real-server fixtures come from tests/testenv plugins."""

import importlib.util

pytest_plugins = [
    name for name in ("tests.testenv.pytest_kube", "tests.testenv.pytest_postgres",
                      "tests.testenv.pytest_monitoring")
    if importlib.util.find_spec(name) is not None
]
