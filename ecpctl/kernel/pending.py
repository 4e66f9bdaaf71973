"""A write that is done and whose outcome is still to come: a readiness or deletion wait that a
provider's watch settles later, on its own thread (providers/kubernetes/watch.py), while the apply
walk goes on with other resources (ecpctl/walk.py).

It settles once, as success or as an error; each callback runs once, after it settled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Callback = Callable[[BaseException | None], None]


class Pending:
    __slots__ = ("_lock", "_done", "_error", "_callbacks", "_event")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._error: BaseException | None = None
        self._callbacks: list[Callback] = []
        self._event = threading.Event()

    @classmethod
    def settled(cls, error: BaseException | None = None) -> Pending:
        p = cls()
        p.settle(error)
        return p

    def settle(self, error: BaseException | None = None) -> bool:
        """Settle it (None for success); False, and nothing done, when it had settled already."""
        with self._lock:
            if self._done:
                return False
            self._done, self._error = True, error
            callbacks, self._callbacks = self._callbacks, []
        self._event.set()
        for cb in callbacks:
            cb(error)
        return True

    def then(self, callback: Callback) -> None:
        """Call `callback(error)` once it settles: now, on this thread, if it already has."""
        with self._lock:
            if not self._done:
                self._callbacks.append(callback)
                return
            error = self._error
        callback(error)

    @property
    def done(self) -> bool:
        return self._done

    def wait(self) -> None:
        """Block until it settles; raise its error, if it ended in one."""
        self._event.wait()
        if self._error is not None:
            raise self._error
