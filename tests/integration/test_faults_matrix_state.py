"""Kills inside state writes, on both backends (SQLite and Postgres): `put_resource` during an
apply's walk, the `checkpoint` that ends it, `state push` and `state rekey`.

Each kill is aimed from the debug log of the state store's SQL (ECPCTL_LOG=debug): when a
statement that opens the write shows (a seeded occurrence of it), the process is stopped with
SIGSTOP, the test proves from outside that a write transaction is open at that instant (SQLite: the
WAL write lock in the -shm file is held, taken by BEGIN IMMEDIATE; Postgres: a session of the
state database is inside a transaction), and only then SIGKILLs it. Afterwards the state opens, every checksum verifies (the
current document and each history version), the plan lists exactly the work not recorded, and
after the next command the live systems pass the independent checker and the plan says "No
changes.".
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import re
import signal
from collections import Counter

import pytest

from tests.bench.generate import write_light_tenant
from tests.integration.faults_matrix import cp  # noqa: F401 - the module's control plane
from tests.integration.faults_support import (
    Fleet,
    Proc,
    apply_after_kill,
    fleet_factory,  # noqa: F401 - a fixture
)
from tests.integration.live_check import LiveCheck

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

SEED = 20250311
PER_OP = 3                    # kills inside each operation's write, per backend (12 per backend)

# The statement, logged once it has run, that shows the operation's transaction open with more of
# it to come: put_resource's serial bump (its row follows), checkpoint's look for an existing
# version (the document is built and inserted next), push's removal of the old rows (the new ones
# follow), rekey's first re-encrypted rows (the history follows).
TRIGGERS = {
    "put_resource": re.compile(r"SQL UPDATE workspaces SET serial"),
    "checkpoint": re.compile(r"SQL SELECT versions\.serial\s+FROM versions"),
    "push": re.compile(r"SQL DELETE FROM resources"),
    "rekey": re.compile(r"SQL UPDATE resources SET"),
}
FIGURES: Counter = Counter()


def figure_lines() -> list[str]:
    """Printed after the results (tests/conftest.py)."""
    return [f"state-write kills: {backend:<8} {op:<13} {n} kills inside the write transaction"
            for (backend, op), n in sorted(FIGURES.items())]



# --- inside a write transaction ------------------------------------------------------------------

def writing(fleet: Fleet) -> bool:
    """Whether some session holds an open write transaction on the state database right now."""
    if fleet.state_url:
        import psycopg
        with psycopg.connect(fleet.state_url, autocommit=True, connect_timeout=10) as conn:
            # a session inside a transaction (ecpctl's lock session is autocommit, so it is idle)
            n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%%' "
                             "OR (state = 'active' AND backend_xid IS NOT NULL "
                             "AND datname = current_database() AND pid <> pg_backend_pid())"
                             ).fetchone()[0]
        return n > 0
    # SQLite in WAL mode: a writer holds an exclusive POSIX lock on byte 120 of the -shm file
    # (WAL_WRITE_LOCK) from BEGIN IMMEDIATE to COMMIT.
    fd = os.open(fleet.data_dir / "state.db-shm", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 120)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, 120)
        return False
    finally:
        os.close(fd)


def kill_in_write(fleet: Fleet, proc: Proc, op: str, nth: int) -> bool:
    """Stop `proc` right after the `nth` trigger statement of `op`, check that its write is open,
    SIGKILL it. Returns whether the kill landed inside the transaction (False: it had committed)."""
    proc.wait_for(TRIGGERS[op], nth, timeout=120)
    os.killpg(proc.pid, signal.SIGSTOP)
    inside = writing(fleet)
    proc.kill()
    return inside


# --- what the state looks like after ---------------------------------------------------------------

def verify_state(fleet: Fleet) -> dict:
    """The state opens, its document and every history version verify their checksums; returns
    the current document."""
    from state.document import parse
    fleet.ok("state", "list")
    doc = json.loads(fleet.ok("state", "pull").stdout)
    parse(doc)                                  # raises on a checksum mismatch
    for v in json.loads(fleet.ok("state", "history", "--json").stdout)["versions"]:
        parse(json.loads(fleet.ok("state", "pull", "--version", str(v["version"])).stdout))
    return doc


def converge(fleet: Fleet, checker: LiveCheck, pid: int, universe: set[str]) -> None:
    apply_after_kill(fleet, pid, "apply", str(fleet.spec), "--auto-approve", "--no-wait")
    report = checker.check(fleet.spec, universe)
    assert report.ok, str(report)
    r = fleet.ok("plan", str(fleet.spec), "--detailed-exitcode")
    assert "No changes." in r.output, r.output[-3000:]


# --- the test ------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kills_inside_state_writes(backend, cp, postgres_server, fleet_factory, request):
    state_url = request.getfixturevalue("postgres_state_url") if backend == "postgres" else None
    fleet = fleet_factory(cp, postgres_server.admin_dsn, [], name=f"state-{backend}",
                          state_url=state_url)
    checker = LiveCheck.for_control_plane(cp, postgres_server.admin_dsn,
                                          env={"ECPCTL_POSTGRES_DSN": postgres_server.admin_dsn})
    rng = random.Random(f"{SEED}-{backend}")
    universe: set[str] = set()
    env = {"ECPCTL_LOG": "debug"}
    fleet.ok("workspace", "list")               # the state database exists before any trigger

    def aimed(op: str, args: list[str], nth: int, extra_env: dict | None = None) -> Proc | None:
        proc = fleet.spawn(*args, env={**env, **(extra_env or {})})
        if kill_in_write(fleet, proc, op, nth):
            FIGURES[(backend, op)] += 1
            return proc
        return None

    # put_resource and checkpoint: an apply that creates a tenant
    for op in ("put_resource", "checkpoint"):
        tries = 0
        while FIGURES[(backend, op)] < PER_OP:
            tries += 1
            assert tries <= PER_OP * 3, f"{op}: the kills kept missing the write transaction"
            name = f"w{backend[0]}{op[0]}{tries:02d}"
            universe.add(name)
            write_light_tenant(fleet.spec, name)
            everything = fleet.all_addresses()
            nth = rng.randint(1, 20) if op == "put_resource" else 1
            # one operation at a time: the kill meets a state write and nothing half-done in a
            # provider (the kill matrix covers those)
            proc = aimed(op, ["apply", str(fleet.spec), "--auto-approve", "--no-wait",
                              "--parallelism", "1"], nth)
            doc = verify_state(fleet)
            recorded = {r["address"] for r in doc["resources"]}
            # the plan lists exactly the work not recorded
            assert fleet.pending() == everything - recorded, op
            if op == "checkpoint":
                assert recorded == everything     # every resource was recorded before it
            converge(fleet, checker, proc.pid if proc else None, universe)

    # push: the pulled document pushed back with --force (rewrites every row)
    doc_path = fleet.root / "pulled.json"
    tries = 0
    while FIGURES[(backend, "push")] < PER_OP:
        tries += 1
        assert tries <= PER_OP * 3, "push: the kills kept missing the write transaction"
        doc_path.write_text(fleet.ok("state", "pull").stdout)
        before = verify_state(fleet)
        proc = aimed("push", ["state", "push", str(doc_path), "--force"], 1)
        after = verify_state(fleet)
        assert after["resources"] == before["resources"]     # old or new: the same resources
        converge(fleet, checker, proc.pid if proc else None, universe)

    # rekey: key A -> key B -> ...; exactly one of the two keys opens the state afterwards
    from state.keys import NEW_KEY_ENV, generate_key
    first = generate_key()
    os.environ[NEW_KEY_ENV] = first
    try:
        fleet.ok("state", "rekey")           # encrypted from here on: a wrong key fails to open it
    finally:
        del os.environ[NEW_KEY_ENV]
    fleet.key = first
    tries = 0
    while FIGURES[(backend, "rekey")] < PER_OP:
        tries += 1
        assert tries <= PER_OP * 3, "rekey: the kills kept missing the write transaction"
        new = generate_key()
        proc = aimed("rekey", ["state", "rekey"], 1, {NEW_KEY_ENV: new})
        opens = []
        for key in (fleet.key, new):
            fleet.key = key
            # plan opens the values (pull would print the envelopes under any key)
            if fleet("plan", str(fleet.spec), "--no-refresh").exit_code == 0:
                opens.append(key)
        assert len(opens) == 1, "after a killed rekey, exactly one key must open the state"
        fleet.key = opens[0]
        verify_state(fleet)
        converge(fleet, checker, proc.pid if proc else None, universe)
