"""Benchmarks: figures anyone can reproduce. Not tests: nothing here asserts a time.

    python -m tests.bench [--json out.json]     offline plan at 10, 100, 1,000 tenants, and the live
                                                scenarios (cold apply 100, no-op plan 100 and 500,
                                                one tenant changed among 500, ecpctl vs kubectl at
                                                100, destroy 100) on a real control plane + Postgres
    python -m tests.bench --full                 the same, and the offline plan at 5,000 tenants
    python -m tests.bench --ci                   reduced: offline 10 and 100, live 10 and 100
    python -m tests.bench --offline-only --sizes 10,100,1000
    python -m tests.bench --offline-only         also start-up (--version, --help, validate, plan
                                                --no-refresh; wall and CPU over --startup-runs)
                                                and the graph walk over --walk-nodes (100,000)
    python -m tests.bench --profile DIR          also write a py-spy profile of each live ecpctl run
    python -m tests.bench.examples               the no-op plan of the 4 example tenants on a sandbox
                                                (also part of every run but --ci and --no-examples)
    python -m tests.bench.waits --before DIR     applies and destroys that wait for readiness, on
                                                pods that take --ready-delay seconds to be ready,
                                                against the code checked out at DIR
    python -m tests.bench.fleet --tenants 2000   the fleet beyond the table's sizes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_offline(n: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.bench.offline", str(n)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_walk(n_nodes: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.bench.walk", str(n_nodes)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _verbs(counts: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items() if v) or "-"


def _total(counts: dict) -> int:
    return sum(v for k, v in counts.items() if k != "connections")


def _cell(v) -> str:
    return "" if v is None or v == "" else str(v)


def print_table(rows: list[dict]) -> None:
    """Every scenario, this run beside the figures before the fleet-scale work (tests/bench/
    before.py) and the issue's target."""
    from tests.bench.before import TARGETS, before
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
          f", load average {os.getloadavg()[0]:.1f} at the end")
    head = (f"{'scenario':<30}{'tenants':>8}{'resources':>10}{'wall s':>9}{'(before)':>9}"
            f"{'cpu s':>8}{'(before)':>9}{'peak MiB':>9}{'(before)':>9}{'obj/s':>8}"
            f"{'kube req':>9}{'(before)':>9}{'pg stmt (conn)':>16}{'(before)':>16}   target")
    print(head)
    print("-" * len(head))
    for r in rows:
        req = r.get("requests") or {}
        kube = _total(req["kubernetes"]) if "kubernetes" in req else ""
        pg = ""
        if "postgres" in req:
            pg = f"{_total(req['postgres']):,}"
            if req["postgres"].get("connections"):
                pg += f" ({req['postgres']['connections']:,})"
        scenario = "graph walk" if r["scenario"].startswith("graph walk") else r["scenario"]
        b = before(scenario, r["tenants"])
        if scenario == "graph walk":
            b = r["before_100k"] if r.get("before_100k") and r["resources"] >= 99_000 else {}
        target = TARGETS.get((scenario, r["resources"] if scenario == "graph walk" else r["tenants"]),
                             "")
        print(f"{r['scenario']:<30}{r['tenants']:>8}{r['resources']:>10}{r['wall_s']:>9}"
              f"{_cell(b.get('wall_s')):>9}{r['cpu_s']:>8}{_cell(b.get('cpu_s')):>9}"
              f"{r['peak_rss_mib']:>9}{_cell(b.get('peak_rss_mib')):>9}"
              f"{_cell(r.get('objects_per_s')):>8}{_cell(kube):>9}{_cell(b.get('kube')):>9}"
              f"{pg:>16}{_cell(b.get('pg')):>16}   {target}")
    print()
    for r in rows:
        req = r.get("requests") or {}
        if not any(req.values()):
            continue
        line = f"{r['scenario']} ({r['tenants']}):"
        for system, counts in req.items():
            line += f"  {system}: {_verbs(counts)}"
        if r.get("changes") is not None:
            line += f"  changes={r['changes']}"
        if r.get("ecpctl_over_kubectl_wall") is not None:
            from tests.bench.before import BEFORE_OVER_KUBECTL
            line += (f"  ecpctl/kubectl wall={r['ecpctl_over_kubectl_wall']} "
                     f"(before {BEFORE_OVER_KUBECTL}), cpu={r.get('ecpctl_over_kubectl_cpu')}")
        print(line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench")
    ap.add_argument("--sizes", default=None, help="offline plan sizes (default 10,100,1000)")
    ap.add_argument("--full", action="store_true", help="add the offline plan at 5,000 tenants")
    ap.add_argument("--ci", action="store_true", help="reduced sizes for CI (10 and 100 tenants)")
    ap.add_argument("--offline-only", action="store_true", help="skip the live scenarios")
    ap.add_argument("--live-only", action="store_true", help="skip the offline plans")
    ap.add_argument("--startup-runs", type=int, default=7,
                    help="runs of each start-up command (0 skips the start-up scenario)")
    ap.add_argument("--walk-nodes", type=int, default=100_000,
                    help="nodes of the graph-walk scenario (0 skips it)")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="write a py-spy profile (raw collapsed stacks) of each live ecpctl run")
    ap.add_argument("--no-examples", action="store_true",
                    help="skip the no-op plan of the 4 example tenants on a sandbox (--ci skips it)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep fleets and outputs here")
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args(argv)

    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    elif args.ci:
        sizes = [10, 100]
    else:
        sizes = [10, 100, 1000] + ([5000] if args.full else [])

    rows: list[dict] = []
    startup: list[dict] = []
    if not args.live_only and args.startup_runs > 0:
        from tests.bench.startup import measure
        log(f"start-up, {args.startup_runs} runs of each command")
        startup = measure(args.startup_runs)
    if not args.live_only and args.walk_nodes > 0:
        log(f"graph walk over {args.walk_nodes} nodes")
        rows.append(run_walk(args.walk_nodes))
    if not args.live_only:
        offline = []
        for n in sizes:
            log(f"offline plan of {n} tenants")
            offline.append(run_offline(n))
        for prev, cur in zip(offline, offline[1:]):
            cur["growth_vs_previous"] = (round(cur["wall_s"] / prev["wall_s"], 2)
                                         if prev["wall_s"] else None)
        rows.extend(offline)

    if not args.offline_only:
        from tests.bench.live import CI, FULL, run_live
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        tmp = None
        if args.workdir:
            root = args.workdir
            root.mkdir(parents=True, exist_ok=True)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="ecpctl-bench-")
            root = Path(tmp.name)
        try:
            live = run_live(CI if args.ci else FULL, root, log, profile_dir=args.profile)
        finally:
            if tmp is not None:
                tmp.cleanup()
        if tmp is not None:
            for r in live:
                r.pop("output", None)            # the outputs went with the temporary directory
        by_scenario: dict[str, dict] = {}
        for r in live:
            prev = by_scenario.get(r["scenario"])
            if prev is not None and prev["wall_s"]:
                r["growth_vs_previous"] = round(r["wall_s"] / prev["wall_s"], 2)
            by_scenario[r["scenario"]] = r
        rows.extend(live)
        if not args.ci and not args.no_examples:
            from tests.bench.examples import measure as measure_examples
            log("no-op plan of the 4 example tenants on a sandbox")
            with tempfile.TemporaryDirectory(prefix="ecpctl-examples-") as ex:
                rows.append(measure_examples(Path(ex)))

    print_table(rows)
    for r in rows:
        if r["scenario"].startswith("graph walk") and r.get("before_100k"):
            b = r["before_100k"]
            print(f"graph walk before (sorted ready list), 100,000 nodes: {b['wall_s']} s wall, "
                  f"{b['cpu_s']} s CPU; now {r['resources']:,} nodes: {r['wall_s']} s wall, "
                  f"{r['cpu_s']} s CPU")
    if startup:
        from tests.bench.startup import print_table as print_startup
        print()
        print_startup(startup)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(
            {"cores": os.cpu_count(), "machine": platform.machine(),
             "python": platform.python_version(), "ci": args.ci, "full": args.full,
             "results": startup + rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
