"""The tenant Postgres restarted in the middle of a multi-tenant apply (real server, real control
plane): the operations it cut, and those started while it was down, are retried with backoff, and
the apply completes; the next plan says "No changes."."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.faults_support import COMPLETE, RETRYING, STARTED, fleet_factory  # noqa: F401
from tests.testenv.postgres import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

PG_COMPLETE = re.compile(r"^\S+\.postgres\.\S+: Creation complete after")


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own: restarting the session's would cut other tests' connections."""
    from tests.testenv.postgres import PostgresUnavailable, find_bindir
    try:
        bindir = find_bindir()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    with PostgresServer(bindir=bindir) as server:
        yield server


def test_postgres_restarted_mid_apply_is_retried_and_the_apply_completes(
        control_plane, private_postgres, fleet_factory):
    fleet = fleet_factory(control_plane, private_postgres.admin_dsn, ["pgr-a", "pgr-b", "pgr-c"])
    everything = fleet.all_addresses()

    proc = fleet.spawn("apply", str(fleet.spec), "--auto-approve", "--parallelism", "4", "--no-wait")
    proc.wait_for(PG_COMPLETE, 1)
    private_postgres.restart()               # fast shutdown: every session is cut, then back
    code = proc.finish(timeout=240)
    out = proc.output

    assert code == 0, out[-4000:]
    assert "Apply complete!" in out
    assert "Traceback" not in out
    retried = {m.group(1): m.group(2) for m in proc.matching(RETRYING)}
    pg_retried = {a for a in retried if ".postgres." in a}
    assert pg_retried, "the restart cut no Postgres operation:\n" + out[-4000:]
    started = {m.group(1) for m in proc.matching(STARTED)}
    assert pg_retried <= started
    assert {m.group(1) for m in proc.matching(COMPLETE)} == everything
    assert fleet.state() == everything
    r = fleet.ok("plan", str(fleet.spec), "--detailed-exitcode")
    assert "No changes." in r.output
