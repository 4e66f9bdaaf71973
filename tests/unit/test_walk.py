"""The graph walk's order and failure rules on graphs shaped like a fleet's (many tenants, many
nodes ready at once): the order a user sees in a plan's apply output, the skips after a failure,
and an interrupt that starts nothing new."""

from __future__ import annotations

import threading

from ecpctl.graph import build_graph, ordered
from ecpctl.walk import walk


def fleet(tenants: int) -> dict[str, list[str]]:
    """A small copy of a tenant's graph per tenant: several roots each, a fan-in node."""
    nodes: dict[str, list[str]] = {}
    for i in range(tenants):
        t = f"tenant.t{i:02d}"
        ns, owner, app = f"{t}.ns", f"{t}.role.owner", f"{t}.role.app"
        db, secret = f"{t}.database", f"{t}.secret"
        nodes.update({ns: [], owner: [], app: [], db: [owner], secret: [ns, db, app]})
        for svc in ("advisor", "callbot", "chatbot"):
            nodes[f"{t}.deploy.{svc}"] = [ns, secret]
            nodes[f"{t}.hpa.{svc}"] = [f"{t}.deploy.{svc}"]
            nodes[f"{t}.service.{svc}"] = [ns]
    return nodes


def test_one_worker_walks_in_the_lexicographic_topological_order():
    g = build_graph(fleet(12))
    started: list[str] = []
    result = walk(g, lambda n: None, parallelism=1, on_start=started.append)
    assert started == ordered(g)
    assert list(result.done) == ordered(g)
    assert not result.failed and not result.skipped and not result.not_started


def test_many_workers_still_respect_every_dependency():
    g = build_graph(fleet(30))
    finished: set[str] = set()
    lock = threading.Lock()
    violations: list[str] = []

    def work(node: str) -> None:
        with lock:
            violations.extend(f"{node} before {p}" for p in g.predecessors(node)
                              if p not in finished)
            finished.add(node)

    result = walk(g, work, parallelism=8)
    assert violations == []
    assert sorted(result.done) == sorted(g.nodes)


def test_failures_skip_their_descendants_once_and_name_the_first_failure():
    g = build_graph(fleet(3))

    def work(node: str) -> None:
        if node in ("tenant.t01.role.owner", "tenant.t01.role.app"):
            raise RuntimeError(f"boom {node}")

    result = walk(g, work, parallelism=1)
    assert set(result.failed) == {"tenant.t01.role.owner", "tenant.t01.role.app"}
    # the secret depends on both failed roles: skipped once, blamed on the first that failed
    # (role.app sorts first, so with one worker it fails first)
    assert result.skipped["tenant.t01.secret"] == "tenant.t01.role.app"
    assert result.skipped["tenant.t01.database"] == "tenant.t01.role.owner"
    assert set(result.skipped) == {"tenant.t01.database", "tenant.t01.secret",
                                   *(f"tenant.t01.{k}.{s}" for k in ("deploy", "hpa")
                                     for s in ("advisor", "callbot", "chatbot"))}
    assert not set(result.skipped) & set(result.done)
    others = {n for n in g.nodes if not n.startswith("tenant.t01.")}
    assert others <= set(result.done)
    assert {"tenant.t01.ns", "tenant.t01.service.chatbot"} <= set(result.done)


def test_a_stop_starts_nothing_new_and_lists_what_was_left():
    g = build_graph(fleet(5))
    stop = threading.Event()
    started: list[str] = []

    def on_start(node: str) -> None:
        started.append(node)
        if len(started) == 7:
            stop.set()

    result = walk(g, lambda n: None, parallelism=1, on_start=on_start, stop=stop)
    assert result.interrupted
    assert list(result.done) == started == ordered(g)[:7]
    assert result.not_started == tuple(sorted(set(g.nodes) - set(started)))


def test_ctrl_c_lets_running_work_finish_and_starts_nothing_more():
    # in a child process: SIGINT is delivered to the walk's (main) thread as a user's Ctrl-C is
    code = """
import os, signal, time
from ecpctl.graph import build_graph
from ecpctl.walk import walk

# a shell's background job starts with SIGINT ignored, and Python then installs no handler
signal.signal(signal.SIGINT, signal.default_int_handler)

def work(node):
    if node == "a":
        time.sleep(0.1)                       # the walk's thread is waiting for completions
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)

r = walk(build_graph({"a": [], "b": ["a"], "c": ["b"], "x": ["a"]}), work, parallelism=2)
print(r.interrupted, list(r.done), list(r.not_started))
"""
    import subprocess
    import sys
    from pathlib import Path
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "True ['a'] ['b', 'c', 'x']"
