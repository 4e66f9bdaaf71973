"""The heartbeat of long operations: which resources are in flight, and a ticker thread that
reports each of them every `interval` seconds (Terraform's "Still creating... [20s elapsed]").

The applier knows nothing of it: a view feeds it the applier's started/finished events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ecpctl.plan import ResourceChange

INTERVAL = 10.0

Beat = Callable[[ResourceChange, float], None]   # (change, seconds elapsed)


class Heartbeat:
    """Calls `beat(change, elapsed)` for each in-flight change once per `interval` of its own
    running time (at 10 s, 20 s, ...), from one daemon thread started by the first `started`."""

    def __init__(self, beat: Beat, *, interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic):
        self._beat = beat
        self._interval = interval
        self._clock = clock
        self._running: dict[str, tuple[ResourceChange, float, int]] = {}   # addr -> (c, t0, beats)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def started(self, change: ResourceChange) -> None:
        with self._lock:
            self._running[change.address] = (change, self._clock(), 0)
            if self._thread is None and self._interval > 0:
                self._thread = threading.Thread(target=self._run, name="ecpctl-heartbeat",
                                                daemon=True)
                self._thread.start()

    def finished(self, change: ResourceChange) -> None:
        with self._lock:
            self._running.pop(change.address, None)

    def tick(self) -> None:
        """Report every change whose next multiple of `interval` has passed (the thread's step;
        tests call it with a fake clock)."""
        now = self._clock()
        due: list[tuple[ResourceChange, float]] = []
        with self._lock:
            for addr, (change, t0, beats) in list(self._running.items()):
                elapsed = now - t0
                n = int(elapsed // self._interval)
                if n > beats:
                    self._running[addr] = (change, t0, n)
                    due.append((change, n * self._interval))
        for change, elapsed in sorted(due, key=lambda d: d[0].address):
            self._beat(change, elapsed)

    def _run(self) -> None:
        # wake often enough that a beat is at most a second late, whatever the interval
        step = min(1.0, self._interval / 10)
        while not self._stop.wait(step):
            self.tick()

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
