"""The bad-input corpus measured: each case run by `ecpctl` in its own process, wall time and peak
memory (max RSS of that process) per command; the worst case of each is printed. Figures only.

    python -m tests.bench.bad_input [--commands validate,calc,plan,plan-refresh,apply] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.provider import OVERRIDES
from tests.unit.bad_input_cases import CASES as BUILT
from tests.unit.test_config_malformed import CASES as FIXTURES

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "validate": ["validate"], "calc": ["calc"], "plan": ["plan", "--no-refresh"],
    "plan-refresh": ["plan"], "apply": ["apply", "--auto-approve"],
}


def measure(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one ecpctl process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ecpctl", *args], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, proc.returncode


def run(commands: list[str]) -> list[dict]:
    rows = []
    for name, fixture, built in [(c.name, c, None) for c in FIXTURES] + \
            [(c.name, None, c) for c in BUILT]:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            (tmp_path / "in").mkdir()
            extra: dict[str, str] = {}
            if fixture is not None:
                given = str(fixture)
            else:
                b = built.build(tmp_path / "in")
                given, extra = b.path, b.env
            for command in commands:
                work = tmp_path / f"run-{command}"
                work.mkdir()
                env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1",
                       "ECPCTL_PROVIDER_OVERRIDES": OVERRIDES,
                       "ECPCTL_FAKE_DIR": str(work / "live"), **extra}
                secs, mib, code = measure(["--data-dir", str(work / ".ecpctl"),
                                           *COMMANDS[command], given], env, work)
                rows.append({"case": name, "command": command, "seconds": round(secs, 3),
                             "peak_rss_mib": round(mib, 1), "exit_code": code})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--json", type=Path, default=None)
    opts = parser.parse_args()
    rows = run(opts.commands.split(","))
    cases = len({r["case"] for r in rows})
    print(f"{cases} cases x {len(opts.commands.split(','))} commands = {len(rows)} runs")
    for command in opts.commands.split(","):
        mine = [r for r in rows if r["command"] == command]
        slow = max(mine, key=lambda r: r["seconds"])
        big = max(mine, key=lambda r: r["peak_rss_mib"])
        median = sorted(r["seconds"] for r in mine)[len(mine) // 2]
        print(f"{command:13} worst time {slow['seconds']:.2f} s ({slow['case']}), median "
              f"{median:.2f} s; peak memory {big['peak_rss_mib']:.0f} MiB ({big['case']})")
    bad = [r for r in rows if r["exit_code"] != 1]
    print(f"exit code other than 1: {len(bad)} {[(r['case'], r['command']) for r in bad][:5]}")
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
