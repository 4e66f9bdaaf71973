"""Workspace locks: conflicts name the holder, waiting, force-unlock, dead holders, other processes.

Runs on SQLite here and on the real Postgres from tests/integration/test_state_postgres.py, where
a killed holder is found dead through its freed advisory lock instead of its pid.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ecpctl.kernel import LockError, StateError
from state import LockInfo
from state.lock import this_host, this_user
from tests.unit.test_state_store import (make_rs, make_tenant, open_store, state_url,  # noqa: F401
                                         store)

REPO = Path(__file__).resolve().parents[2]

# Another ecpctl: opens the store, takes (or fails to take) the lock, holds it until stdin closes.
HOLDER = r"""
import sys
from pathlib import Path
from ecpctl.kernel import LockError
from state import StateStore
url, ws, timeout, data_dir = sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])
store = StateStore.open(url, data_dir=data_dir)
try:
    lock = store.lock(ws, "apply", timeout=timeout)
except LockError as exc:
    print("LOCKERROR", exc, flush=True)
    sys.exit(3)
print("LOCKED", lock.id, flush=True)
sys.stdin.read()
store.unlock(lock)
store.close()
"""


class Holder:
    """A separate process that holds (or tries to hold) a workspace lock."""

    def __init__(self, url: str, workspace: str, data_dir: Path, timeout: float = 0.0):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, url, workspace, str(timeout), str(data_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=REPO, env=env)
        self.line = self._first_line()

    def _first_line(self) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        if not ready:
            self.proc.kill()
            raise AssertionError("lock holder process did not report within 60s")
        line = self.proc.stdout.readline().strip()
        if not line:
            self.proc.wait(10)
            raise AssertionError(f"lock holder process failed: {self.proc.stderr.read()}")
        return line

    @property
    def locked(self) -> bool:
        return self.line.startswith("LOCKED ")

    @property
    def lock_id(self) -> str:
        assert self.locked, self.line
        return self.line.split()[1]

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
        self.proc.wait(30)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)      # reaped: no zombie left behind


@pytest.fixture
def holders():
    started: list[Holder] = []
    yield started
    for h in started:
        if h.proc.poll() is None:
            h.kill()


def _hold(holders, state_url, tmp_path, workspace="default", timeout=0.0) -> Holder:
    h = Holder(state_url, workspace, tmp_path / "data", timeout)
    holders.append(h)
    return h


# --- one process -----------------------------------------------------------------------------

def test_lock_records_who_holds_it(store):
    lock = store.lock("default", "apply")
    assert isinstance(lock, LockInfo)
    assert lock.workspace == "default" and lock.operation == "apply" and lock.pid == os.getpid()
    assert lock.host == this_host() and lock.holder == f"{this_user()}@{this_host()}"
    assert len(lock.id) == 36 and lock.created_at.tzinfo is not None
    assert store.current_lock("default") == lock
    store.unlock(lock)
    assert store.current_lock("default") is None


def test_second_lock_fails_fast_naming_the_holder(open_store):
    a, b = open_store(), open_store()
    lock = a.lock("default", "apply")
    t0 = time.monotonic()
    with pytest.raises(LockError) as err:
        b.lock("default", "plan")
    assert time.monotonic() - t0 < 5
    msg = str(err.value)
    assert msg.startswith(f"state is locked by {lock.holder} (pid {os.getpid()}) for apply since ")
    assert " UTC (held " in msg and f"lock id {lock.id}" in msg and "workspace default" in msg
    assert "appears dead" not in msg


def test_lock_waits_for_release(open_store):
    a, b = open_store(), open_store()
    lock = a.lock("default", "apply")
    timer = threading.Timer(0.5, a.unlock, args=(lock,))
    timer.start()
    t0 = time.monotonic()
    got = b.lock("default", "apply", timeout=20)
    waited = time.monotonic() - t0
    timer.join()
    assert got.id != lock.id and waited >= 0.4
    assert b.current_lock("default") == got


def test_lock_wait_times_out(open_store):
    a, b = open_store(), open_store()
    lock = a.lock("default", "apply")
    t0 = time.monotonic()
    with pytest.raises(LockError, match=r"timed out after 0.3s waiting for the lock: state is locked by"):
        b.lock("default", "apply", timeout=0.3)
    assert time.monotonic() - t0 >= 0.3
    assert a.current_lock("default") == lock


def test_locks_of_different_workspaces_are_independent(store):
    store.create_workspace("prod")
    a = store.lock("default", "apply")
    b = store.lock("prod", "apply")
    assert a.id != b.id
    store.put_resource("prod", make_rs("tenant.acme.fake.thing.a"), lock=b)


def test_unlock_removes_only_its_own_lock(open_store, state_url):
    a, b = open_store(), open_store()
    old = a.lock("default", "apply")
    b.force_unlock("default", old.id)
    if state_url.startswith("postgresql"):
        # The live holder's session still has the advisory lock: it is not taken over.
        with pytest.raises(LockError, match="locked by a session that left no lock record"):
            b.lock("default", "apply")
        a.unlock(old)
        new = b.lock("default", "apply")
    else:
        new = b.lock("default", "apply")
        a.unlock(old)                             # late unlock of a lock that is gone
    assert b.current_lock("default") == new


def test_force_unlock(open_store):
    a, b = open_store(), open_store()
    with pytest.raises(StateError, match="no lock nope on workspace default; the workspace is not locked"):
        b.force_unlock("default", "nope")
    lock = a.lock("default", "apply")
    with pytest.raises(StateError, match=f"no lock nope on workspace default; the current lock is {lock.id}"):
        b.force_unlock("default", "nope")
    b.force_unlock("default", lock.id)
    assert b.current_lock("default") is None


def test_write_with_a_lock_that_was_force_unlocked_is_refused(open_store):
    a, b = open_store(), open_store()
    lock = a.lock("default", "apply")
    a.put_resource("default", make_rs("tenant.acme.fake.thing.a"), lock=lock)
    b.force_unlock("default", lock.id)
    with pytest.raises(LockError, match=f"lock {lock.id} on workspace default is no longer held"):
        a.put_resource("default", make_rs("tenant.acme.fake.thing.b"), lock=lock)
    with pytest.raises(LockError, match="no longer held"):
        a.remove_resource("default", "tenant.acme.fake.thing.a", lock=lock)
    assert sorted(a.snapshot("default").resources) == ["tenant.acme.fake.thing.a"]


def test_close_releases_the_locks_a_store_holds(open_store):
    a, b = open_store(), open_store()
    a.lock("default", "apply")
    a.close()
    assert b.current_lock("default") is None
    b.lock("default", "apply")


# --- other processes -------------------------------------------------------------------------

def test_writes_are_refused_while_another_process_holds_the_lock(store, holders, state_url, tmp_path):
    store.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
    doc = store.pull("default")
    h = _hold(holders, state_url, tmp_path)
    assert h.locked
    for write in (lambda: store.put_resource("default", make_rs("tenant.acme.fake.thing.b")),
                  lambda: store.remove_resource("default", "tenant.acme.fake.thing.a"),
                  lambda: store.move_resource("default", "tenant.acme.fake.thing.a", "tenant.acme.fake.thing.c"),
                  lambda: store.upsert_tenant("default", make_tenant()),
                  lambda: store.push("default", doc, force=True)):
        with pytest.raises(LockError, match=f"state is locked by .* \\(pid {h.proc.pid}\\) for apply"):
            write()
    assert store.snapshot("default").serial == 1
    h.release()
    store.put_resource("default", make_rs("tenant.acme.fake.thing.b"))


def test_two_processes_lock_two_workspaces_at_once(store, holders, state_url, tmp_path):
    store.create_workspace("prod")
    a = _hold(holders, state_url, tmp_path, "default")
    b = _hold(holders, state_url, tmp_path, "prod")
    assert a.locked and b.locked
    assert store.current_lock("default").id == a.lock_id
    assert store.current_lock("prod").id == b.lock_id


def test_second_process_on_the_same_workspace_is_told_who_holds_it(store, holders, state_url, tmp_path):
    first = _hold(holders, state_url, tmp_path)
    assert first.locked
    second = _hold(holders, state_url, tmp_path)
    assert second.proc.wait(30) == 3
    assert second.line.startswith("LOCKERROR state is locked by ")
    assert f"(pid {first.proc.pid}) for apply" in second.line and f"lock id {first.lock_id}" in second.line
    assert "appears dead" not in second.line
    first.release()
    third = _hold(holders, state_url, tmp_path)
    assert third.locked


def test_killed_holder_is_reported_dead_and_never_taken_over(store, holders, state_url, tmp_path):
    h = _hold(holders, state_url, tmp_path)
    lock_id = h.lock_id
    h.kill()
    with pytest.raises(LockError) as err:
        store.lock("default", "apply", timeout=30)   # a holder whose end is not seen yet looks alive
    msg = str(err.value)
    assert f"(pid {h.proc.pid}) for apply" in msg and f"lock id {lock_id}" in msg
    assert "the holder appears dead" in msg and f"`ecpctl force-unlock {lock_id}`" in msg
    assert store.current_lock("default").id == lock_id       # still there: reported, not taken
    store.force_unlock("default", lock_id)
    assert store.lock("default", "apply").pid == os.getpid()
