"""Nothing waits forever, Kubernetes side: the real kube-apiserver of a private control plane frozen
with SIGSTOP in the middle of an apply. Its port still accepts connections (the kernel does that)
but nothing answers, so only the client's deadline can end a request. With a small readTimeout in
the Project the apply ends well within its deadline, one `Error:` line per failed resource, exit 1,
the workspace lock released; state holds exactly what finished, which the live cluster (read with
kubectl after SIGCONT) confirms, and the next apply finishes the rest."""

from __future__ import annotations

import os
import signal
import time

import networkx as nx
import pytest

from tests.integration.faults_support import (  # noqa: F401
    COMPLETE,
    ERROR,
    SKIPPED,
    STARTED,
    KUBE_COMPLETE,
    one_node_cp,
    fleet_factory,
    held_lock,
)
from tests.integration.live_check import LiveCheck

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

READ_TIMEOUT = 0.5
# Each request gives up after READ_TIMEOUT; the engine tries a resource 6 times with backoff that
# spans at most 15.5 s: about 19 s per resource, two waves at --parallelism 8. Generous margin.
DEADLINE = 150.0


def test_apiserver_frozen_mid_apply_fails_each_resource_after_the_read_timeout(
        cp, postgres_server, fleet_factory):
    fleet = fleet_factory(cp, postgres_server.admin_dsn, ["frozen"])
    project = fleet.spec / "project.yaml"
    marker = "      fieldManager: ecpctl\n"
    project.write_text(project.read_text().replace(
        marker, marker + f"      connectTimeout: 2s\n      readTimeout: {int(READ_TIMEOUT * 1000)}ms\n"))
    everything = fleet.all_addresses()
    graph = nx.DiGraph(fleet.graph_edges())

    proc = fleet.spawn("apply", str(fleet.spec), "--auto-approve", "--parallelism", "8",
                       "--no-wait")
    proc.wait_for(KUBE_COMPLETE, 3)           # the namespace and some of what lives in it are done
    pid = cp.pids()["kube-apiserver"]
    os.kill(pid, signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        code = proc.finish(timeout=DEADLINE + 60)
        elapsed = time.monotonic() - frozen
        out = proc.output
        # read while the API server is still frozen: nothing of this needs it
        lock_left = held_lock(fleet)
        recorded = fleet.state()
    finally:
        os.kill(pid, signal.SIGCONT)

    assert code == 1, out[-4000:]
    assert elapsed < DEADLINE, f"the apply took {elapsed:.0f}s against a frozen API server"
    assert "Traceback" not in out
    assert lock_left is None, f"the workspace lock is still held: {lock_left}"
    started = {m.group(1) for m in proc.matching(STARTED)}
    completed = {m.group(1) for m in proc.matching(COMPLETE)}
    errors = proc.matching(ERROR)
    failed = {m.group(1): m.group(2) for m in errors}
    skipped = {m.group(1): m.group(2) for m in proc.matching(SKIPPED)}
    assert failed, out[-4000:]
    # one line per failed resource, naming it and the deadline that ended it
    assert len(errors) == len(failed), [m.group(0) for m in errors]
    for address, message in failed.items():
        assert address in started and ".kubernetes." in address, f"{address}: {message}"
        assert "cannot reach the API server" in message and "timed out" in message.lower(), message
        assert cp.server in message, message
    for address, cause in skipped.items():
        assert cause in failed and address in nx.descendants(graph, cause), (address, cause)
        assert address not in started
    # the Postgres branch does not need the API server: all of it finished
    assert {a for a in everything if ".postgres." in a} <= completed
    # state holds exactly what finished
    assert recorded == completed

    # judged against the live systems, not ecpctl's view: all that state holds exists; what exists
    # beyond it can only be a request in flight at the freeze, which the server finished on SIGCONT
    dsn = postgres_server.admin_dsn
    live = LiveCheck.for_control_plane(cp, dsn, env={"ECPCTL_POSTGRES_DSN": dsn}).live_addresses(
        fleet.spec)
    assert recorded <= live, sorted(recorded - live)
    assert live - recorded <= set(failed), sorted(live - recorded - set(failed))

    # a second command takes the lock, and finishes the rest (adopting what the server finished)
    r = fleet.ok("apply", str(fleet.spec), "--auto-approve", "--parallelism", "8", "--no-wait")
    assert "Apply complete!" in r.output
    assert fleet.state() == everything
    assert fleet.pending() == set()
    print(f"frozen API server: apply ended after {elapsed:.1f}s, {len(completed)} finished, "
          f"{len(failed)} failed, {len(skipped)} skipped, {len(live - recorded)} live not in state")
