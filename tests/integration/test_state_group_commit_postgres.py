"""Group commit on the real Postgres state backend: the same tests as on SQLite (those that do not
hold SQLite's own write lock), and two workspaces applying at once on one state database."""

from __future__ import annotations

import threading

import pytest

from state.group_commit import GroupCommit
from tests.unit.test_state_group_commit import (  # noqa: F401
    test_a_lost_lock_fails_the_batch_and_writes_nothing,
    test_concurrent_writes_share_transactions_and_all_land,
    test_removing_what_is_not_there_fails_that_writer_alone,
)
from tests.unit.test_state_store import make_rs, open_store, store  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def state_url(postgres_state_url):   # noqa: F811 - the unit tests' fixture, on Postgres
    return postgres_state_url


def test_two_workspaces_write_in_parallel_on_one_state_database(open_store):
    stores = {ws: open_store() for ws in ("demo", "prod")}
    for ws, s in stores.items():
        s.create_workspace(ws)
    errors: list[BaseException] = []

    def apply(ws: str) -> None:
        s = stores[ws]
        gc = GroupCommit(s)
        lock = s.lock(ws, "apply")
        try:
            def worker(k: int) -> None:
                for j in range(30):
                    gc.put_resource(ws, make_rs(f"tenant.{ws}.fake.thing.t{k}-{j}", tenant=ws),
                                    lock=lock)
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            s.unlock(lock)

    runs = [threading.Thread(target=apply, args=(ws,)) for ws in stores]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert not errors
    for ws, s in stores.items():
        snap = s.snapshot(ws)
        assert len(snap.resources) == 240
        assert {rs.tenant for rs in snap.resources.values()} == {ws}
