"""The API server stopped in the middle of an apply (real control plane, real Postgres): in-flight
resources fail with a one-line error naming the resource and the cause, finished ones are in state,
nothing downstream of a failure is attempted, the Postgres branch finishes; after a restart, apply
finishes the rest and the next plan says "No changes."."""

from __future__ import annotations


import networkx as nx
import pytest

from tests.integration.faults_support import (  # noqa: F401
    COMPLETE,
    ERROR,
    RETRYING,
    SKIPPED,
    STARTED,
    KUBE_COMPLETE,
    one_node_cp,
    fleet_factory,
)

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]



def test_apiserver_stopped_mid_apply_then_restarted(cp, postgres_server, fleet_factory):
    fleet = fleet_factory(cp, postgres_server.admin_dsn, ["down-a", "down-b", "down-c"])
    everything = fleet.all_addresses()
    graph = nx.DiGraph(fleet.graph_edges())

    proc = fleet.spawn("apply", str(fleet.spec), "--auto-approve", "--parallelism", "4", "--no-wait")
    proc.wait_for(KUBE_COMPLETE, 6)          # a namespace and some of what lives in it are done
    cp.stop_apiserver()                      # SIGKILL: gone at once, like a crash
    code = proc.finish(timeout=240)
    out = proc.output

    assert code == 1, out[-4000:]
    assert "Traceback" not in out
    started = {m.group(1) for m in proc.matching(STARTED)}
    completed = {m.group(1) for m in proc.matching(COMPLETE)}
    failed = {m.group(1): m.group(2) for m in proc.matching(ERROR)}
    skipped = {m.group(1): m.group(2) for m in proc.matching(SKIPPED)}
    assert failed, out[-4000:]

    # every failure is one line naming the resource and the cause
    server = cp.server
    for address, message in failed.items():
        assert address in started, f"{address} failed without being started"
        assert ".kubernetes." in address, f"{address}: {message}"
        assert "cannot reach the API server" in message or "API server" in message, message
        assert server in message or "not attempted" in message, message
    # in-flight operations were retried with backoff first, each retry naming its resource
    retried = {m.group(1) for m in proc.matching(RETRYING)}
    assert retried and retried <= started, retried
    # finished ones are in state, and only they
    assert fleet.state() == completed
    # nothing downstream of a failure was attempted; each skip names a failed resource upstream
    for address in failed:
        assert not (nx.descendants(graph, address) & started), address
    for address, cause in skipped.items():
        assert cause in failed and address in nx.descendants(graph, cause), (address, cause)
        assert address not in started
    # the Postgres branch does not depend on the API server: all of it finished
    pg = {a for a in everything if ".postgres." in a}
    assert pg <= completed

    cp.start_apiserver()
    r = fleet.ok("apply", str(fleet.spec), "--auto-approve", "--parallelism", "4", "--no-wait")
    assert "Apply complete!" in r.output
    assert fleet.state() == everything
    r = fleet.ok("plan", str(fleet.spec), "--detailed-exitcode")
    assert "No changes." in r.output
