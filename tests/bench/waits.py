"""Readiness waits at fleet scale: a cold apply that waits for every rollout, against the same
apply with --no-wait, on a control plane whose pods take `--ready-delay` seconds to become ready
(kwok's pod-ready stage delayed, as a readiness probe would), and the destroy that waits for every
object to be gone.

    python -m tests.bench.waits --tenants 50 --ready-delay 5 [--before DIR]

With `--before DIR` (a checkout of an earlier commit) the waiting apply is also measured with that
code, on a fleet of its own in the same run. Requests are counted by the servers (tests/bench/live.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.live import Env, Fleet, Measure


def log(msg: str) -> None:
    print(f"[waits] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class CodeEnv:
    """`env` whose ecpctl processes run the code at `root` instead of this checkout's."""

    def __init__(self, env: Env, root: Path):
        self._env, self._root = env, root

    def __getattr__(self, name):
        return getattr(self._env, name)

    def env(self) -> dict[str, str]:
        return {**self._env.env(), "PYTHONPATH": str(self._root)}


class BeforeFleet(Fleet):
    """A fleet applied by the code at `root`: `-P` keeps the working directory (this checkout)
    off the module path, so PYTHONPATH's ecpctl is the one imported."""

    def __init__(self, env: Env, root: Path, name: str, prefix: str, n: int):
        super().__init__(CodeEnv(env, root), name, prefix, n)   # type: ignore[arg-type]

    def ecpctl(self, *args: str) -> list[str]:
        return [sys.executable, "-P", "-m", "ecpctl", "--data-dir", str(self.data), *args]


def _waiting(f: Fleet, scenario: str, verb: str) -> Measure:
    args = ["apply", str(f.spec), "--auto-approve"] if verb == "apply" else \
        ["destroy", str(f.spec), "--auto-approve"]
    m = f.measure(scenario, args)
    text = Path(m.extra["output"]).read_text(errors="replace")
    if ("Apply complete!" if verb == "apply" else "Destroy complete!") not in text:
        raise RuntimeError(f"{scenario}: {text[-3000:]}")
    m.extra["objects_per_s"] = round(m.resources / m.wall_s, 1)
    return m


def run(tenants: int, delay: float, root: Path, before: Path | None) -> list[dict]:
    fleets = 3 if before else 2
    env = Env(root, tenants * fleets, log, pod_ready_delay=delay)
    rows: list[dict] = []

    def keep(m: Measure) -> None:
        m.extra["ready_delay_s"] = delay
        rows.append(m.row())
        kube = m.requests.get("kubernetes", {})
        log(f"  {m.scenario}: {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s CPU, "
            f"{kube.get('get', 0)} GET, {kube.get('list', 0)} LIST")

    try:
        if before:
            old = BeforeFleet(env, before, "before", "o", tenants)
            log(f"cold apply of {tenants} tenants, waiting, with the code at {before}")
            keep(_waiting(old, "cold apply, waiting (before)", "apply"))
        w = Fleet(env, "waiting", "w", tenants)
        log(f"cold apply of {tenants} tenants, waiting for readiness")
        keep(_waiting(w, "cold apply, waiting", "apply"))
        n = Fleet(env, "nowait", "n", tenants)
        log(f"cold apply of {tenants} tenants, --no-wait")
        keep(n.apply("cold apply, --no-wait"))
        if before:
            log(f"destroy of {tenants} tenants, waiting for deletion, with the code at {before}")
            keep(_waiting(old, "destroy, waiting (before)", "destroy"))
        log(f"destroy of {tenants} tenants, waiting for deletion")
        keep(_waiting(w, "destroy, waiting", "destroy"))
    finally:
        env.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.waits", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--ready-delay", type=float, default=5.0,
                    help="seconds a scheduled pod takes to become ready (default 5)")
    ap.add_argument("--before", type=Path, help="a checkout of an earlier commit to measure too")
    ap.add_argument("--json", type=Path, help="write the rows here as well")
    ap.add_argument("--keep", type=Path, help="work in this directory and keep the outputs")
    args = ap.parse_args(argv)
    if args.keep:
        rows = run(args.tenants, args.ready_delay, args.keep, args.before)
    else:
        with tempfile.TemporaryDirectory(prefix="ecpctl-bench-waits-") as tmp:
            rows = run(args.tenants, args.ready_delay, Path(tmp), args.before)
    for r in rows:
        print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
