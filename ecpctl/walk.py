"""The graph walk: bounded parallelism, a node starts as soon as its own dependencies are done.

Failure rules live here: everything downstream of a failure is skipped (and its error is not
repeated); other branches finish. An interrupt stops new work and lets in-flight work finish.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

import networkx as nx


@dataclass(frozen=True)
class WalkResult:
    done: tuple[str, ...]
    failed: dict[str, BaseException]
    skipped: dict[str, str]            # address -> the failed address that blocked it
    not_started: tuple[str, ...]       # left alone because the walk was interrupted
    interrupted: bool


def walk(graph: nx.DiGraph, work: Callable[[str], None], *, parallelism: int = 10,
         on_start: Callable[[str], None] | None = None,
         on_end: Callable[[str, BaseException | None, float], None] | None = None,
         stop: threading.Event | None = None) -> WalkResult:
    stop = stop or threading.Event()
    waiting = {n: graph.in_degree(n) for n in graph.nodes}
    ready = sorted(n for n, d in waiting.items() if d == 0)
    done: list[str] = []
    failed: dict[str, BaseException] = {}
    skipped: dict[str, str] = {}
    running: dict[Future, tuple[str, float]] = {}
    interrupted = False

    def run(node: str) -> None:
        work(node)

    def skip_downstream(node: str) -> None:
        for d in nx.descendants(graph, node):
            if d not in skipped and d not in failed and d not in done:
                skipped[d] = node

    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="walk") as pool:
        while ready or running:
            while ready and len(running) < parallelism and not stop.is_set():
                node = ready.pop(0)
                if node in skipped:
                    continue
                if on_start:
                    on_start(node)
                running[pool.submit(run, node)] = (node, time.monotonic())
            if not running:
                break
            try:
                finished, _ = wait(list(running), timeout=0.25, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                stop.set()
                interrupted = True
                continue
            for fut in finished:
                node, started = running.pop(fut)
                err = fut.exception()
                if on_end:
                    on_end(node, err, time.monotonic() - started)
                if err is not None:
                    failed[node] = err
                    skip_downstream(node)
                    continue
                done.append(node)
                for succ in sorted(graph.successors(node)):
                    waiting[succ] -= 1
                    if waiting[succ] == 0 and succ not in skipped:
                        ready.append(succ)
                ready.sort()
            if stop.is_set():
                interrupted = True
                ready.clear()
    finished_set = set(done) | set(failed) | set(skipped)
    not_started = tuple(sorted(n for n in graph.nodes if n not in finished_set))
    return WalkResult(tuple(done), failed, skipped, not_started, interrupted)
