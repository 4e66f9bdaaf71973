"""Shared pytest setup: real-server fixtures come from tests/testenv plugins; tests/ci_rules.py
keeps a CI run from passing without the real servers."""

import importlib.util

pytest_plugins = ["tests.ci_rules"] + [
    name for name in ("tests.testenv.pytest_kube", "tests.testenv.pytest_postgres",
                      "tests.testenv.pytest_monitoring")
    if importlib.util.find_spec(name) is not None
]


# modules that gather figures while they run (kills per path, ...): printed after the results
FIGURE_MODULES = ("tests.integration.faults_matrix", "tests.integration.test_faults_matrix_state")


def pytest_terminal_summary(terminalreporter):
    import sys
    for name in FIGURE_MODULES:
        lines = getattr(sys.modules.get(name), "figure_lines", None)
        for line in lines() if lines else ():
            terminalreporter.write_line(line)
