"""Benchmarks: figures anyone can reproduce. Not tests: nothing here asserts a time.

    python -m tests.bench [--sizes 10,100,1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_offline(n: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.bench.offline", str(n)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench")
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = [run_offline(n) for n in sizes]
    for prev, cur in zip(rows, rows[1:]):
        cur["growth_vs_previous"] = round(cur["wall_s"] / prev["wall_s"], 2) if prev["wall_s"] else None
    print(f"machine: {os.cpu_count()} cores")
    print(f"{'scenario':<14}{'tenants':>8}{'resources':>11}{'wall s':>9}{'cpu s':>9}{'peak MiB':>10}{'growth':>8}")
    for r in rows:
        print(f"{r['scenario']:<14}{r['tenants']:>8}{r['resources']:>11}{r['wall_s']:>9}"
              f"{r['cpu_s']:>9}{r['peak_rss_mib']:>10}{str(r.get('growth_vs_previous') or ''):>8}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"cores": os.cpu_count(), "results": rows},
                                                  indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
