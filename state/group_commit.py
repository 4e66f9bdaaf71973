"""Group commit: the state writes of an apply's concurrent workers, committed together.

Each worker still calls `put_resource` / `remove_resource` and is answered only once its write is
committed, so the crash-safety contract is unchanged: every completion that was reported is in
state. What changes is the cost: while one transaction commits, the writes that arrive queue up,
and the next transaction takes all of them at once (the first waiting worker commits for the
others, as databases group their log flushes). With ten workers that is one transaction, one
lock check and one serial bump for up to ten resources instead of one each.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecpctl.kernel import ResourceState
from state.records import LockInfo


class BatchStore(Protocol):
    def record_values(self, workspace: str, rs: ResourceState) -> dict[str, Any]: ...
    def write_batch(self, workspace: str, puts: list[dict[str, Any]], removes: list[str], *,
                    lock: LockInfo | None = None) -> dict[str, Exception]: ...


@dataclass(eq=False)
class _Write:
    workspace: str
    address: str
    lock: LockInfo | None
    row: dict[str, Any] | None          # None: a removal
    done: bool = False
    error: BaseException | None = None
    key: tuple = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.workspace, self.lock.id if self.lock is not None else None)


class GroupCommit:
    """A StateWriter over a store, committing concurrent writes in shared transactions."""

    def __init__(self, store: BatchStore):
        self._store = store
        self._cv = threading.Condition()
        self._queue: list[_Write] = []
        self._committing = False
        self.transactions = 0           # for tests and benchmarks: how many commits were made

    def put_resource(self, workspace: str, rs: ResourceState, *, lock: LockInfo | None = None) -> None:
        # sealing and serializing happen here, in the caller's thread, in parallel with the others
        self._submit(_Write(workspace, rs.address, lock, self._store.record_values(workspace, rs)))

    def remove_resource(self, workspace: str, address: str, *, lock: LockInfo | None = None) -> None:
        self._submit(_Write(workspace, address, lock, None))

    def _submit(self, w: _Write) -> None:
        with self._cv:
            self._queue.append(w)
            while not w.done:
                if self._committing:
                    self._cv.wait()
                    continue
                batch = self._take()
                self._committing = True
                self._cv.release()
                try:
                    self._commit(batch)
                finally:
                    self._cv.acquire()
                    self._committing = False
                    self._cv.notify_all()
        if w.error is not None:
            raise w.error

    def _take(self) -> list[_Write]:
        """The queued writes that can share a transaction: one workspace and lock, each address
        once (a second write of an address waits for the next transaction, keeping their order)."""
        first = self._queue[0]
        batch: list[_Write] = []
        rest: list[_Write] = []
        seen: set[str] = set()
        for w in self._queue:
            if w.key == first.key and w.address not in seen and not rest:
                batch.append(w)
                seen.add(w.address)
            else:
                rest.append(w)
        self._queue = rest
        return batch

    def _commit(self, batch: list[_Write]) -> None:
        first = batch[0]
        try:
            missing = self._store.write_batch(
                first.workspace, [w.row for w in batch if w.row is not None],
                [w.address for w in batch if w.row is None], lock=first.lock)
        except BaseException as exc:     # noqa: BLE001 - handed to every writer of the batch
            errors: dict[int, BaseException] = {id(w): exc for w in batch}
        else:
            errors = {id(w): missing[w.address] for w in batch
                      if w.row is None and w.address in missing}
        self.transactions += 1
        with self._cv:
            for w in batch:
                w.error = errors.get(id(w))
                w.done = True
