"""Crash safety and locking with real processes: SIGKILL mid-apply, SIGINT, concurrent applies."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def spawn(ecpctl, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ecpctl", "--data-dir", str(ecpctl.data_dir), *args],
        env={**ecpctl.env(), "PYTHONUNBUFFERED": "1", **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)


def wait_for_lines(proc: subprocess.Popen, pattern: str, n: int, timeout: float = 60) -> list[str]:
    seen: list[str] = []
    matched = 0             # counted as lines come: a recount per line fell behind the apply
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        matched += bool(re.search(pattern, line))
        if matched >= n:
            return seen
    raise AssertionError(f"did not see {n} lines matching {pattern!r}: {''.join(seen)[-2000:]}")


def state_addresses(ecpctl) -> set[str]:
    r = ecpctl("state", "list", "--json")
    return {x["address"] for x in json.loads(r.output)["resources"]}


def planned_creates(ecpctl, spec_dir: Path) -> set[str]:
    doc = json.loads(ecpctl("plan", str(spec_dir), "--json").output)
    return {c["address"] for c in doc["resource_changes"] if c["actions"] != ["no-op"]}


@pytest.mark.parametrize("kill_after", [3, 17])
def test_sigkill_mid_apply_leaves_exactly_the_remaining_work(ecpctl, spec_dir, kill_after):
    total = planned_creates(ecpctl, spec_dir)
    proc = spawn(ecpctl, "apply", str(spec_dir), "--auto-approve", "--parallelism", "4",
                 env={"ECPCTL_FAKE_DELAY": "0.4"})    # slow enough to be killed mid-walk
    wait_for_lines(proc, r"Creation complete", kill_after)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    done = state_addresses(ecpctl)
    assert kill_after <= len(done) < len(total)
    remaining = planned_creates(ecpctl, spec_dir)
    assert remaining == total - done
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 1
    assert "appears dead" in r.output and f"(pid {proc.pid})" in r.output
    lock_id = re.search(r"force-unlock (\S+)`", r.output).group(1)
    assert ecpctl("force-unlock", lock_id, "--yes").exit_code == 0
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0, r.output
    assert f"{len(total - done)} added" in r.output   # the dead holder's lock was released above
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


def test_sigint_lets_running_work_finish_and_saves_state(ecpctl, spec_dir):
    proc = spawn(ecpctl, "apply", str(spec_dir), "--auto-approve", "--parallelism", "2",
                 env={"ECPCTL_FAKE_DELAY": "0.2"})
    early = wait_for_lines(proc, r"Creation complete", 2)
    os.kill(proc.pid, signal.SIGINT)
    rest = proc.stdout.read()      # not communicate(): it would skip what readline buffered
    proc.wait(timeout=60)
    out = "".join(early) + rest
    assert proc.returncode != 0
    assert "Interrupt received" in out
    assert "state was saved" in out
    started = set(re.findall(r"^(\S+): Creating\.\.\.$", out, re.M))
    finished = set(re.findall(r"^(\S+): Creation complete", out, re.M))
    assert started == finished          # nothing left half-done
    assert finished <= state_addresses(ecpctl)
    assert ecpctl("plan", str(spec_dir)).exit_code == 0


def test_second_apply_fails_naming_the_lock_holder(ecpctl, spec_dir):
    proc = spawn(ecpctl, "apply", str(spec_dir), "--auto-approve", "--parallelism", "1",
                 env={"ECPCTL_FAKE_DELAY": "0.1"})
    try:
        wait_for_lines(proc, r"Creating\.\.\.", 1)
        r = ecpctl("apply", str(spec_dir), "--auto-approve")
        assert r.exit_code == 1
        assert re.search(rf"state is locked by \S+@\S+ \(pid {proc.pid}\) for apply", r.output)
        r = ecpctl("apply", str(spec_dir), "--auto-approve", "--lock-timeout", "0.5")
        assert r.exit_code == 1 and "state is locked" in r.output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
