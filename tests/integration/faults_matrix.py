"""The kill matrix's machinery (tests/integration/test_faults_matrix*.py): one kill cycle, what it
left between the live systems and state, and the figures each path reports.

A cycle starts an `ecpctl` command as a process, waits until its walk has begun, lets it run for a
seeded random time, then kills it (or kills a server under it), and counts the objects the kill
left live but unrecorded ("live but not in state": created or changed live, the state write not
done; or deleted live, still in state). The next command then runs as a user would run it, and the
independent checker (tests/integration/live_check.py) judges the live systems before the "No
changes." plan is asked for.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.bench.generate import write_light_tenant
from tests.integration.faults_support import (STARTED, Fleet, Proc, apply_after_kill,
                                              fault_control_plane)
from tests.integration.live_check import LiveCheck, desired_objects

TALLIES: dict[str, Tally] = {}


@pytest.fixture(scope="module")
def cp() -> Iterator:
    """The module's own control plane: the matrix kills and restarts things under it."""
    with fault_control_plane() as plane:
        yield plane


@dataclass
class Tally:
    """What one path's kills did: the figures printed at the end of the run."""
    path: str
    kills: int = 0
    modes: Counter = field(default_factory=Counter)
    window_kills: int = 0        # kills that left at least one object live but not in state
    window_objects: int = 0
    forced: int = 0              # seeds whose state write was held so the kill lands in the window
    ended_first: int = 0         # the command finished before its kill time (not counted as a kill)
    seconds: float = 0.0

    def line(self) -> str:
        modes = ", ".join(f"{k} {v}" for k, v in sorted(self.modes.items()))
        return (f"{self.path:<22} kills {self.kills:>3} ({modes}); live-not-in-state after "
                f"{self.window_kills:>2} kills ({self.window_objects} objects, {self.forced} seeded "
                f"by a held state write); ended before the kill {self.ended_first}; "
                f"{self.seconds:.0f}s")


def tally(path: str) -> Tally:
    return TALLIES.setdefault(path, Tally(path))


def figure_lines() -> list[str]:
    """Printed after the results (tests/conftest.py), when some path ran."""
    if not TALLIES:
        return []
    return ["kill matrix: kills per path, and how many hit the \"live but not in state\" window"] + \
        [t.line() for t in TALLIES.values()]


# --- holding a state write ---------------------------------------------------------------------

class StateHold:
    """Blocks ecpctl's state writes from outside, so that live operations finish and their state
    writes wait: a kill then lands in the window between the two. SQLite: a write transaction of
    our own (BEGIN IMMEDIATE) on the state file; Postgres: LOCK TABLE resources."""

    def __init__(self, fleet: Fleet):
        self.fleet = fleet
        self._conn: Any = None

    def __enter__(self) -> StateHold:
        if self.fleet.state_url:
            import psycopg
            self._conn = psycopg.connect(self.fleet.state_url.replace("postgresql+psycopg://",
                                                                      "postgresql://"))
            self._conn.execute("LOCK TABLE resources IN EXCLUSIVE MODE")
        else:
            self._conn = sqlite3.connect(self.fleet.data_dir / "state.db", timeout=30,
                                         isolation_level=None)
            self._conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.rollback() if self.fleet.state_url else self._conn.execute("ROLLBACK")
        except Exception:       # noqa: BLE001 - the server under it was killed: nothing to undo
            pass
        finally:
            self._conn.close()


# --- what a kill left ----------------------------------------------------------------------------

def _without(attrs: Mapping[str, Any], paths: tuple[str, ...]) -> dict:
    out = json.loads(json.dumps(attrs))
    for p in paths:
        parts = p.split(".")
        cur = out
        for part in parts[:-1]:
            cur = cur.get(part) if isinstance(cur, dict) else None
        if isinstance(cur, dict):
            cur.pop(parts[-1], None)
    return out


def unrecorded(fleet: Fleet, checker: LiveCheck, spec: Path, universe_spec: Path) -> set[str]:
    """Objects live but not in state: live with the spec's fields while state records something
    else (or nothing), or gone live while state still records them."""
    recorded = fleet.state_attributes()
    everything = {d.address: d for d in desired_objects(universe_spec, checker.env)}
    reading = checker.read({d.tenant for d in everything.values()})
    live_ok = checker.live_addresses(spec, matching=True, reading=reading)
    desired = {d.address: d for d in desired_objects(spec, checker.env)}
    out = set()
    for a in live_ok:
        d = desired[a]
        if a not in recorded or _without(recorded[a], d.sensitive) != _without(d.attributes, d.sensitive):
            out.add(a)
    for a, attrs in recorded.items():
        # a rotated password that state does not know yet: the role no longer takes the recorded one
        d = everything.get(a)
        if d is not None and d.type == "role" and attrs.get("password") and attrs.get("login") \
                and a in live_ok and not checker.password_works(attrs["name"], attrs["password"],
                                                                 "postgres"):
            out.add(a)
    existing = checker.live_addresses(universe_spec, reading=reading)
    out |= {a for a in recorded if a in everything and a not in existing}
    return out


# --- one cycle -----------------------------------------------------------------------------------

@dataclass
class Path_:
    """One path of the matrix on one fleet."""
    name: str
    fleet: Fleet
    checker: LiveCheck
    universe: set[str]
    rng: random.Random
    span: float                          # seconds the walk usually takes: kill times are drawn in it

    def universe_spec(self) -> Path:
        """A spec of every tenant this fleet ever had (to see what is still live of removed ones)."""
        out = self.fleet.root / "universe"
        out.mkdir(exist_ok=True)
        for f in out.glob("*.yaml"):
            f.unlink()
        for f in self.fleet.spec.glob("*.yaml"):
            shutil.copy(f, out / f.name)
        for t in self.universe:
            if not (out / f"{t}.yaml").exists():
                write_light_tenant(out, t)
        return out

    def empty_spec(self) -> Path:
        out = self.fleet.root / "empty"
        out.mkdir(exist_ok=True)
        shutil.copy(self.fleet.spec / "project.yaml", out / "project.yaml")
        return out


def next_kill(p: Path_) -> dict[str, bool]:
    """The mode of a path's next kill: readiness waiting (the default) and --no-wait in turn; the
    first kill holds the state writes (the live-but-not-in-state window, made certain)."""
    t = tally(p.name)
    return {"wait": t.kills % 2 == 0, "hold": t.kills == 0}


def kill_cycle(p: Path_, cmd: list[str], *, wait: bool, recover: list[str] | None = None,
               hold: bool = False, destroy: bool = False,
               trigger: Callable[[Proc], None] | None = None,
               victim: Callable[[], None] | None = None,
               after_kill: Callable[[], None] | None = None) -> bool:
    """Run `cmd`, kill it (or, with `victim`, kill a server under it) at a seeded random moment of
    its walk, then recover with `recover` (default: `cmd` again) and judge the live systems.

    `hold`: hold the state writes first, so the kill lands in the live-but-not-in-state window.
    `trigger`: waits for a moment of its own instead of the random delay (then the kill follows).
    `after_kill`: looks at what the kill left, before anything else runs.
    Returns whether the kill happened (False: the command ended first; its walk took less than
    the span, which shrinks to fit).
    """
    t = tally(p.name)
    started = time.monotonic()
    fleet = p.fleet
    flags = [] if wait else ["--no-wait"]
    universe_spec = p.universe_spec()
    marks: dict[str, float] = {}

    def mark(what: str) -> None:
        marks[what] = time.monotonic() - started - sum(marks.values())

    proc = fleet.spawn(*cmd, *flags)
    proc.wait_for(STARTED, 1, timeout=120)
    mark("start")
    delay = p.rng.uniform(0.3, 1.5) if hold else p.rng.uniform(0.0, p.span)
    held = StateHold(fleet).__enter__() if hold else None
    try:
        if trigger is not None:
            trigger(proc)
            alive = proc.popen.poll() is None
        else:
            alive = proc.run_for(delay)
        if alive and victim is not None:
            victim()                     # kills a server under the running apply, starts it again
            if hold:                     # and ecpctl with it, blocked in its state write
                proc.kill()
        elif alive:
            proc.kill()
    finally:
        if held is not None:
            held.__exit__(None, None, None)
    if alive and victim is not None and not hold:
        proc.finish(timeout=240)
        assert "Traceback" not in proc.output, proc.output[-4000:]
    if not alive:
        t.ended_first += 1
        proc.finish(timeout=30)
        p.span = min(p.span, max(0.2, 0.9 * (time.monotonic() - started - marks["start"])))
    else:
        t.kills += 1
        t.forced += hold
        t.modes["wait" if wait else "no-wait"] += 1

    if after_kill is not None:
        after_kill()
    mark("kill")
    spec = p.empty_spec() if destroy else fleet.spec
    window = unrecorded(fleet, p.checker, spec, universe_spec)
    mark("count")
    if window:
        t.window_kills += 1
        t.window_objects += len(window)
        # the next plan takes them over: it plans (no error), and names each one
        doc = fleet.plan_doc() if not destroy else json.loads(
            fleet.ok("plan", str(fleet.spec), "--destroy", "--json").stdout)
        planned = {c["address"] for c in doc["resource_changes"]}
        assert window <= planned | set(), f"not in the next plan: {window - planned}"
    elif hold:
        raise AssertionError(f"{p.name}: the held state write left nothing live but unrecorded:\n"
                             + proc.output[-3000:])

    mark("plan")
    r = apply_after_kill(fleet, proc.pid, *(recover or cmd), *flags)
    mark("recover")
    report = p.checker.check(spec, p.universe)
    mark("check")
    assert report.ok, (f"{p.name} ({'wait' if wait else 'no-wait'}), after the next apply:\n{report}"
                       f"\n--- the killed command:\n{proc.output[-2500:]}"
                       f"\n--- the next apply:\n{r.output[-2500:]}")
    r = fleet.ok("plan", str(fleet.spec), "--detailed-exitcode", *(["--destroy"] if destroy else []))
    assert "No changes." in r.output, f"{p.name}:\n{r.output[-3000:]}"
    mark("noop")
    t.seconds += time.monotonic() - started
    if os.environ.get("ECPCTL_FAULT_TRACE"):
        print(f"{p.name} {'wait' if wait else 'no-wait'}: {time.monotonic() - started:.1f}s "
              f"({', '.join(f'{k} {v:.1f}' for k, v in marks.items())}) window {len(window)}",
              flush=True)
    return alive


def watch_deleted(cp, path: str, timeout: float = 60) -> Callable[[Proc], None]:
    """A trigger that returns the moment the API server answers 404 for `path` (an object's URL):
    a replace has deleted it and not yet created it again. Polled every few milliseconds: a GET
    is answered in about a millisecond on loopback."""
    status, _ = cp.get(path)
    assert status == 200, f"{path}: {status}"

    def wait(proc: Proc) -> None:
        deadline = time.monotonic() + timeout
        while proc.popen.poll() is None and time.monotonic() < deadline:
            if cp.get(path)[0] == 404:
                return
            time.sleep(0.003)
    return wait
