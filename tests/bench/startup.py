"""Start-up: the wall time of short commands run as a user runs them (a new process each time),
over several runs after one warm-up; median and minimum. Prints one JSON line per command.

    python -m tests.bench.startup [--runs 7] [--src DIR]

`--src DIR` runs `python -m ecpctl` from another checkout, on that checkout's examples (for a
before/after comparison, for example one made with `git archive`); without it the installed
`ecpctl` script runs on this checkout's examples.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# CPU seconds of the same commands before the lazy imports (61f68a9, docs/performance.md), printed
# beside each run's figures: CPU, because wall time on a shared machine moves with its load
BEFORE_CPU_S = {"ecpctl --version": 0.68, "ecpctl --help": 0.67,
                "ecpctl validate examples": 0.69, "ecpctl plan --no-refresh examples": 1.10}

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--version",),
    ("--help",),
    ("validate", "examples"),
    ("plan", "--no-refresh", "examples"),
)


def launcher(src: Path | None) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("ECPCTL_LOG", None)
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
        return [sys.executable, "-m", "ecpctl"], env
    script = Path(sys.executable).parent / "ecpctl"     # the console script pip installed
    if script.exists():
        return [str(script)], env
    return [sys.executable, "-m", "ecpctl"], env


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_command(cmd: list[str], env: dict[str, str], cwd: Path,
                 runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run. CPU is reported too because the machine is shared: other
    work inflates the wall time of a run, not its CPU time."""
    walls, cpus = [], []
    for i in range(runs + 1):
        t0, c0 = time.perf_counter(), _children_cpu()
        subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        if i:                                     # the first run warms the OS's file cache
            walls.append(time.perf_counter() - t0)
            cpus.append(_children_cpu() - c0)
    return walls, cpus


def measure(runs: int = 7, src: Path | None = None) -> list[dict]:
    base, env = launcher(src)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ecpctl-startup-") as tmp:
        cwd = Path(tmp)
        shutil.copytree(src / "examples" if src is not None else EXAMPLES, cwd / "examples")
        for args in COMMANDS:
            ok = subprocess.run(base + list(args), cwd=cwd, env=env, capture_output=True,
                                text=True, check=False)
            if ok.returncode != 0:
                raise SystemExit(f"ecpctl {' '.join(args)} failed ({ok.returncode}): "
                                 f"{(ok.stderr or ok.stdout).strip()[-300:]}")
            t, cpu = time_command(base + list(args), env, cwd, runs)
            rows.append({"scenario": "start-up", "command": "ecpctl " + " ".join(args),
                         "runs": runs, "median_s": round(statistics.median(t), 3),
                         "min_s": round(min(t), 3), "max_s": round(max(t), 3),
                         "cpu_median_s": round(statistics.median(cpu), 3)})
    return rows


def print_table(rows: list[dict]) -> None:
    head = (f"{'start-up (wall s)':<40}{'runs':>6}{'median':>8}{'min':>8}{'max':>8}"
            f"{'cpu median':>12}{'cpu before':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['command']:<40}{r['runs']:>6}{r['median_s']:>8}{r['min_s']:>8}{r['max_s']:>8}"
              f"{r['cpu_median_s']:>12}{BEFORE_CPU_S.get(r['command'], ''):>12}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.startup")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--src", type=Path, default=None, metavar="DIR",
                    help="run `python -m ecpctl` from this checkout instead of the installed one")
    args = ap.parse_args(argv)
    for row in measure(args.runs, args.src):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
