"""pytest plugin: under CI (`CI=true`) the test command cannot pass without the real servers.

- The switches that skip real-server tests (ECPCTL_SKIP_KUBE, ECPCTL_SKIP_POSTGRES,
  ECPCTL_SKIP_MONITORING) and the one that rewrites expected outputs (ECPCTL_UPDATE_EXPECTED) are
  refused before collection, with a one-line reason; so is ECPCTL_FAULT_KILLS below ten.
- Every test that needs a real server carries the `integration` marker, so `-m integration`
  selects them all: a test under tests/integration, or one using a real-server fixture, without
  it is a collection error (always, not only under CI).
- Under CI, a skipped `integration` test fails the run at the end of the session.
"""

from __future__ import annotations

import os

import pytest

SKIP_SWITCHES = ("ECPCTL_SKIP_KUBE", "ECPCTL_SKIP_POSTGRES", "ECPCTL_SKIP_MONITORING")
UPDATE_SWITCH = "ECPCTL_UPDATE_EXPECTED"
# the kill matrix's seeded kills per path (tests/integration/test_faults_matrix.py): fewer only
# when debugging, never in CI, where the guarantee is at least ten per path
KILLS_SWITCH, MIN_KILLS = "ECPCTL_FAULT_KILLS", 10
MARKER = "integration"
# fixtures of tests/testenv that start or need a real server (fake_grafana and webhook_sink are
# in-process fakes and do not count)
SERVER_FIXTURES = frozenset({
    "control_plane", "kubeconfig", "kube_api_client", "namespace", "isolated_control_plane",
    "postgres_server", "postgres_state_url", "promtool", "amtool", "alertmanager"})
_skipped: list[str] = []     # node ids of skipped integration tests in this session


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _set(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    _skipped.clear()
    if not in_ci():
        return
    switches = [f"{n}={os.environ[n]}" for n in SKIP_SWITCHES if _set(n)]
    if switches:
        raise pytest.UsageError(
            f"CI=true: {', '.join(switches)} would skip the tests that need real servers; "
            "CI runs them all (unset the switch)")
    if _set(UPDATE_SWITCH):
        raise pytest.UsageError(
            f"CI=true: {UPDATE_SWITCH}={os.environ[UPDATE_SWITCH]} would rewrite the expected outputs instead of checking "
            "them; regenerate them locally and commit the result")
    kills = os.environ.get(KILLS_SWITCH, "").strip()
    if kills and (not kills.isdigit() or int(kills) < MIN_KILLS):
        raise pytest.UsageError(
            f"CI=true: {KILLS_SWITCH}={kills} would run fewer than {MIN_KILLS} kills per path of "
            "the kill matrix; CI runs them all (unset the switch)")


def needs_server(item: pytest.Item) -> bool:
    return bool(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))


def _under_integration(item: pytest.Item, root) -> bool:
    try:
        parts = item.path.relative_to(root).parts
    except ValueError:
        return False
    return parts[:2] == ("tests", "integration")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items
                if item.get_closest_marker(MARKER) is None
                and (_under_integration(item, config.rootpath) or needs_server(item))]
    if unmarked:
        more = f" and {len(unmarked) - 3} more" if len(unmarked) > 3 else ""
        raise pytest.UsageError(
            f"{len(unmarked)} test(s) need a real server but lack @pytest.mark.{MARKER} "
            f"(so `-m {MARKER}` would miss them): {', '.join(unmarked[:3])}{more}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and MARKER in report.keywords:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    skipped = sorted(set(_skipped))
    if not (in_ci() and skipped):
        return
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    line = (f"CI=true: {len(skipped)} test(s) that need real servers were skipped: "
            f"{', '.join(skipped[:3])}{more}")
    if reporter is not None:
        reporter.write_line(line, red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
