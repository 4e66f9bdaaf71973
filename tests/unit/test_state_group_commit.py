"""Group commit: concurrent writers share transactions, each is answered only once its own write is
committed, and a failed batch or a missing row fails only the writers it concerns.

Runs on SQLite here; tests/integration/test_state_group_commit_postgres.py runs the tests that do
not hold SQLite's write lock on the real Postgres too.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from ecpctl.kernel import LockError, StateError
from state.group_commit import GroupCommit
from tests.unit.test_state_store import make_rs, open_store, state_url, store  # noqa: F401


def _addr(i: int) -> str:
    return f"tenant.acme.fake.thing.t{i:03d}"


def test_concurrent_writes_share_transactions_and_all_land(store):
    gc = GroupCommit(store)
    lock = store.lock("default", "apply")
    serial0 = store.head("default")[1]
    barrier = threading.Barrier(10)

    def worker(k: int) -> None:
        barrier.wait()
        for j in range(20):
            gc.put_resource("default", make_rs(_addr(k * 20 + j)), lock=lock)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = store.snapshot("default")
    assert sorted(snap.resources) == [_addr(i) for i in range(200)]
    assert snap.resources[_addr(7)] == make_rs(_addr(7))
    # fewer transactions than writes, and the serial moved once per transaction
    assert gc.transactions < 200
    assert snap.serial == serial0 + gc.transactions


def test_a_writer_returns_only_after_its_write_is_committed(store, tmp_path: Path, state_url):
    gc = GroupCommit(store)
    gc.put_resource("default", make_rs(_addr(0)))
    # another connection holds the database's write lock: the write waits, and is not reported
    blocker = sqlite3.connect(state_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    returned = threading.Event()

    def write() -> None:
        gc.put_resource("default", make_rs(_addr(1)))
        returned.set()

    t = threading.Thread(target=write)
    t.start()
    time.sleep(0.5)
    assert not returned.is_set()
    blocker.execute("ROLLBACK")
    blocker.close()
    t.join(30)
    assert returned.is_set()
    assert _addr(1) in store.snapshot("default").resources


def test_removing_what_is_not_there_fails_that_writer_alone(store):
    gc = GroupCommit(store)
    gc.put_resource("default", make_rs(_addr(0)))
    errors: dict[str, BaseException] = {}
    barrier = threading.Barrier(3)

    def run(name: str, fn) -> None:
        barrier.wait()
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001
            errors[name] = exc

    threads = [
        threading.Thread(target=run, args=("gone", lambda: gc.remove_resource("default", _addr(9)))),
        threading.Thread(target=run, args=("rm", lambda: gc.remove_resource("default", _addr(0)))),
        threading.Thread(target=run, args=("put", lambda: gc.put_resource("default", make_rs(_addr(1))))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(errors) == {"gone"}
    assert isinstance(errors["gone"], StateError) and _addr(9) in str(errors["gone"])
    assert sorted(store.snapshot("default").resources) == [_addr(1)]


def test_a_lost_lock_fails_the_batch_and_writes_nothing(store, open_store):
    gc = GroupCommit(store)
    lock = store.lock("default", "apply")
    other = open_store()
    other.force_unlock("default", lock.id)
    with pytest.raises(LockError, match="no longer held"):
        gc.put_resource("default", make_rs(_addr(0)), lock=lock)
    assert store.snapshot("default").resources == {}


def test_writes_of_one_address_keep_their_order(store, state_url):
    gc = GroupCommit(store)
    gc.put_resource("default", make_rs(_addr(0), replicas=1))
    blocker = sqlite3.connect(state_url.removeprefix("sqlite:///"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    threads = []

    def start(fn, *, queues: bool = True) -> None:
        queued = len(gc._queue) + 1
        t = threading.Thread(target=fn)
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while queues and len(gc._queue) < queued and time.monotonic() < deadline:
            time.sleep(0.01)

    # the first write commits (held by the blocker); a new record of t000, then its removal, queue
    start(lambda: gc.put_resource("default", make_rs(_addr(1))), queues=False)
    time.sleep(0.2)
    start(lambda: gc.put_resource("default", make_rs(_addr(0), replicas=3)))
    start(lambda: gc.remove_resource("default", _addr(0)))
    blocker.execute("ROLLBACK")
    blocker.close()
    for t in threads:
        t.join(30)
    # applied in the order they were asked for: the removal last
    assert sorted(store.snapshot("default").resources) == [_addr(1)]
