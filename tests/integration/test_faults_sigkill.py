"""An apply killed with SIGKILL at 20 points (seeded) of a multi-tenant apply against the real
control plane and the real Postgres: each time, the next plan lists exactly the work not done (the
addresses not in state), and after force-unlock of the dead holder's lock the next apply converges
to "No changes."."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.integration.faults_support import (  # noqa: F401
    COMPLETE,
    fault_control_plane,
    fleet_factory,
    force_unlock_dead_holder,
)
from tests.testenv.kube import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

SEED = 20240601
KILLS = 20
TENANTS_PER_ROUND = 2


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlane]:
    with fault_control_plane() as plane:
        yield plane


def kill_points(total: int) -> list[int]:
    """20 distinct completion counts in [1, total - 1], from a fixed seed: the same on every run."""
    return sorted(random.Random(SEED).sample(range(1, total), KILLS))


def test_sigkill_at_20_points_leaves_exactly_the_remaining_work(cp, postgres_server, fleet_factory):
    total = None
    points: list[int] | None = None
    for i in range(KILLS):
        tenants = [f"k{i:02d}{c}" for c in "ab"[:TENANTS_PER_ROUND]]
        fleet = fleet_factory(cp, postgres_server.admin_dsn, tenants, name=f"round{i:02d}")
        everything = fleet.all_addresses()
        if points is None:
            total = len(everything)
            points = kill_points(total)
        assert len(everything) == total                 # every round has the same shape
        k = points[i]

        proc = fleet.spawn("apply", str(fleet.spec), "--auto-approve", "--parallelism", "4",
                           "--no-wait")
        proc.wait_for(COMPLETE, k)
        proc.kill()

        done = fleet.state()
        reported = {m.group(1) for m in proc.matching(COMPLETE)}
        assert reported <= done, f"kill point {k}: reported complete but not in state: {reported - done}"
        assert k <= len(done) < total, f"kill point {k}: {len(done)} of {total} in state"
        # the next plan lists exactly the work not done
        assert fleet.pending() == everything - done, f"kill point {k}"

        force_unlock_dead_holder(fleet, proc.pid)
        r = fleet.ok("apply", str(fleet.spec), "--auto-approve", "--parallelism", "4", "--no-wait")
        assert "Apply complete!" in r.output
        assert fleet.state() == everything
        r = fleet.ok("plan", str(fleet.spec), "--detailed-exitcode")
        assert "No changes." in r.output, f"kill point {k}:\n{r.output[-3000:]}"
