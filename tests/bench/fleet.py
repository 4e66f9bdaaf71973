"""The fleet beyond the table's sizes: 2,000 light tenants (56,000 resources) on the test
environment's control plane and Postgres, the state on SQLite, then the same load on a Postgres
state database written by two workspaces at once.

    python -m tests.bench.fleet --tenants 2000 --json fleet.json

Scenarios (each command its own process, requests counted by the servers as in tests/bench/live.py):

1. SQLite state: cold apply of N tenants, a no-op plan of them, one tenant changed (its apply),
   destroy.
2. Postgres state: two workspaces, N/2 tenants each, applied at the same moment into one state
   database: the per-resource writes of an N-tenant apply, and two writers on one state. Then a
   no-op plan of each and their destroys, in parallel too.

Applies and destroys run with --no-wait, as in the live scenarios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.generate import write_light_tenant
from tests.bench.live import ROOT, Env, Fleet, Measure


def log(msg: str) -> None:
    print(f"[fleet] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class StateFleet(Fleet):
    """A fleet whose state is a workspace of a shared state database."""

    def __init__(self, env: Env, name: str, prefix: str, n: int, *, state_url: str,
                 workspace: str):
        super().__init__(env, name, prefix, n)
        self.state_url = state_url
        self.workspace = workspace

    def ecpctl(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ecpctl", "--data-dir", str(self.data),
                "--state-url", self.state_url, "-w", self.workspace, *args]


def _destroy(f: Fleet, scenario: str) -> Measure:
    m = f.measure(scenario, ["destroy", str(f.spec), "--auto-approve", "--no-wait"])
    text = Path(m.extra["output"]).read_text(errors="replace")
    if "Destroy complete!" not in text:
        raise RuntimeError(f"{scenario}: {text[-3000:]}")
    m.extra["objects_per_s"] = round(m.resources / m.wall_s, 1)
    return m


def _parallel(env: Env, fleets: list[StateFleet], args_of, scenario: str, done: str) -> dict:
    """Each fleet's command started at the same moment; wall is until the last ends."""
    offset = env.audit_offset()
    sessions = env.pg_reset()
    procs = []
    t0 = time.perf_counter()
    for f in fleets:
        out = f.dir / f"{scenario.replace(' ', '-')}.out"
        procs.append((f, out, subprocess.Popen(
            f.ecpctl(*args_of(f)), cwd=ROOT, env=env.env(), stdout=out.open("wb"),
            stderr=subprocess.STDOUT)))
    rows = []
    for f, out, p in procs:
        code = p.wait()
        text = out.read_text(errors="replace")
        if code != 0 or done not in text:
            raise RuntimeError(f"{scenario} ({f.workspace}): exit {code}: {text[-3000:]}")
        rows.append({"workspace": f.workspace, "tenants": len(f.tenants)})
    wall = time.perf_counter() - t0
    resources = sum(f.resources for f in fleets)
    return {"scenario": scenario, "tenants": sum(len(f.tenants) for f in fleets),
            "resources": resources, "wall_s": round(wall, 2), "cpu_s": None,
            "peak_rss_mib": None, "objects_per_s": round(resources / wall, 1),
            "workspaces": rows,
            "requests": {"kubernetes": env.kube_requests(offset, "OpenAPI-Generator/"),
                         "postgres": env.pg_requests(sessions)}}


def run(n: int, root: Path) -> list[dict]:
    rows: list[dict] = []

    def keep(m: Measure | dict) -> None:
        row = m.row() if isinstance(m, Measure) else m
        row.pop("output", None)
        rows.append(row)
        log(f"  {row['scenario']} ({row['tenants']} tenants): {row['wall_s']} s wall, "
            f"{row['cpu_s']} s CPU, {row['peak_rss_mib']} MiB")

    env = Env(root, n, log)
    try:
        a = Fleet(env, "sqlite", "f", n)
        log(f"cold apply of {n} tenants (SQLite state)")
        keep(a.apply("cold apply"))
        keep(a.plan("no-op plan"))
        changed = a.tenants[len(a.tenants) // 2]
        write_light_tenant(a.spec, changed, chatbot=150)
        keep(a.apply("one tenant changed (apply)"))
        log(f"destroy of {n} tenants")
        keep(_destroy(a, "destroy"))

        with env.pg.connect() as conn:
            conn.execute("CREATE DATABASE bench_state")
        url = env.pg.admin_dsn.rsplit("/", 1)[0] + "/bench_state"
        half = n // 2
        fleets = [StateFleet(env, f"pgstate-{w}", p, half, state_url=url, workspace=w)
                  for w, p in (("east", "e"), ("west", "w"))]
        for f in fleets:
            subprocess.run(f.ecpctl("workspace", "new", f.workspace), cwd=ROOT, env=env.env(),
                           check=True, capture_output=True)
        log(f"two workspaces of {half} tenants applied in parallel (Postgres state)")
        keep(_parallel(env, fleets, lambda f: ["apply", str(f.spec), "--auto-approve", "--no-wait"],
                       "cold apply, 2 workspaces in parallel, Postgres state", "Apply complete!"))
        for f in fleets:
            keep(f.plan(f"no-op plan, workspace {f.workspace}, Postgres state"))
        keep(_parallel(env, fleets,
                       lambda f: ["destroy", str(f.spec), "--auto-approve", "--no-wait"],
                       "destroy, 2 workspaces in parallel, Postgres state", "Destroy complete!"))
    finally:
        env.close()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.fleet")
    ap.add_argument("--tenants", type=int, default=2000)
    ap.add_argument("--workdir", type=Path, default=None, help="keep fleets and outputs here")
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ecpctl-fleet-") as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        rows = run(args.tenants, root)
    for r in rows:
        print(json.dumps(r))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
