"""The no-op plan of the 4 example tenants on a sandbox: `examples/` with the sandbox's Project
(its kube-apiserver and kwok nodes, Postgres, Prometheus and Alertmanager in file mode, dashboards
as ConfigMaps), applied once, then planned `--runs` times; the median run is the figure.

    python -m tests.bench.examples [--runs 5] [--json F] [--before DIR]

With `--before DIR` (a checkout of an earlier commit) each run is also made with that code, the two
alternating on the same sandbox and state, and the row gets its figures as `before_*`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.bench.live import run_measured

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "no-op plan, 4 example tenants"
# the examples' slack receiver reads its webhook from the environment (docs/providers/monitoring.md)
WEBHOOK = {"NOC_SLACK_WEBHOOK_URL": "https://hooks.slack.example.com/services/bench"}


def _sandbox_env(path: Path) -> dict[str, str]:
    """The variables of the sandbox's env.sh (`export K='V'` lines; PATH gets its kubectl)."""
    out = dict(os.environ)
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        if key == "PATH":
            out["PATH"] = value.split("'")[1] + ":" + out.get("PATH", "")
        elif key:
            out[key] = value.strip("'")
    return out


def measure(root: Path, runs: int = 5, before: Path | None = None) -> dict:
    base = {**os.environ, "ECPCTL_SANDBOX_DIR": str(root / "sandbox"),
            "PYTHONPATH": str(ROOT), **WEBHOOK}
    ecpctl = [sys.executable, "-m", "ecpctl"]

    def run(*args: str, env=base) -> None:
        subprocess.run([*ecpctl, *args], cwd=ROOT, env=env, check=True, capture_output=True)

    run("sandbox", "up", "--nodes", "8")          # 16 fake GPUs: the examples ask for 14
    try:
        env = {**_sandbox_env(root / "sandbox" / "env.sh"), **base}
        specs = root / "specs"
        specs.mkdir()
        shutil.copy(root / "sandbox" / "project.yaml", specs / "project.yaml")
        for f in sorted((ROOT / "examples").glob("*.yaml")):
            if f.name != "project.yaml":
                shutil.copy(f, specs / f.name)
        data = ["--data-dir", str(root / "data")]
        run(*data, "apply", str(specs), "--auto-approve", "--no-wait", env=env)
        # `-P`: the working directory (this checkout) stays off the module path, so the earlier
        # code is the one PYTHONPATH names
        codes = {"": (ecpctl, env)}
        if before is not None:
            codes["before_"] = ([sys.executable, "-P", "-m", "ecpctl"],
                                {**env, "PYTHONPATH": str(before)})
        figures: dict[str, list[tuple[float, float, float]]] = {k: [] for k in codes}
        for i in range(runs):
            for key, (cmd, cmd_env) in codes.items():
                out = root / f"plan{key}{i}.out"
                code, wall, cpu, rss = run_measured(
                    [*cmd, *data, "plan", str(specs), "--detailed-exitcode"], cmd_env, out)
                if code != 0:
                    raise RuntimeError(f"{SCENARIO}: exit {code}: {out.read_text()[-2000:]}")
                figures[key].append((wall, cpu, rss))
        doc = json.loads(subprocess.run([*ecpctl, *data, "plan", str(specs), "--json"], cwd=ROOT,
                                        env=env, capture_output=True, text=True).stdout)
    finally:
        subprocess.run([*ecpctl, "sandbox", "down"], cwd=ROOT, env=base, capture_output=True)
    row: dict = {"scenario": SCENARIO, "tenants": 4, "resources": len(doc["resource_changes"])}
    for key, rows in figures.items():
        wall, cpu, rss = (statistics.median(x[i] for x in rows) for i in range(3))
        row.update({f"{key}wall_s": round(wall, 2), f"{key}cpu_s": round(cpu, 2),
                    f"{key}peak_rss_mib": round(rss, 1)})
    row.update({"runs": runs, "changes": sum(1 for c in doc["resource_changes"]
                                             if c["actions"] != ["no-op"]),
                "plan_requests": doc.get("requests", {})})
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.examples")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", dest="json_out", default=None)
    ap.add_argument("--before", type=Path, default=None,
                    help="a checkout of an earlier commit, measured alternately with this one")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ecpctl-examples-") as tmp:
        row = measure(Path(tmp), args.runs, args.before)
    print(json.dumps(row))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
