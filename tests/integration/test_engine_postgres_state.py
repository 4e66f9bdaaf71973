"""The engine on the Postgres state backend (a real Postgres 15): apply, no-op, lock conflicts."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from tests.unit.conftest import SPECS, Ecpctl
from tests.unit.test_engine_crash import spawn, wait_for_lines

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def pg_ecpctl(tmp_path: Path, postgres_state_url: str, monkeypatch):
    e = Ecpctl(tmp_path)
    monkeypatch.setenv("ECPCTL_FAKE_DIR", str(e.live))
    monkeypatch.setenv("ECPCTL_STATE_URL", postgres_state_url)
    spec = tmp_path / "specs"
    shutil.copytree(SPECS / "basic", spec)
    return e, spec, postgres_state_url


def test_apply_and_no_op_on_postgres_state(pg_ecpctl):
    e, spec, url = pg_ecpctl
    r = e("apply", str(spec), "--auto-approve", env={"ECPCTL_STATE_URL": url})
    assert r.exit_code == 0, r.output
    assert "Apply complete! Resources: 44 added" in r.output
    r = e("plan", str(spec), "--detailed-exitcode", env={"ECPCTL_STATE_URL": url})
    assert r.exit_code == 0 and "No changes." in r.output
    assert not (e.data_dir / "state.db").exists()       # nothing went to the SQLite default


def test_second_apply_on_postgres_state_names_the_holder(pg_ecpctl):
    e, spec, url = pg_ecpctl
    proc = spawn(e, "apply", str(spec), "--auto-approve", "--parallelism", "1",
                 env={"ECPCTL_FAKE_DELAY": "0.1", "ECPCTL_STATE_URL": url})
    try:
        wait_for_lines(proc, r"Creating\.\.\.", 1)
        r = e("apply", str(spec), "--auto-approve", env={"ECPCTL_STATE_URL": url})
        assert r.exit_code == 1
        assert re.search(rf"state is locked by \S+@\S+ \(pid {proc.pid}\) for apply", r.output)
        # another workspace on the same database is not blocked
        assert e("workspace", "new", "production", env={"ECPCTL_STATE_URL": url}).exit_code == 0
        other = e("--workspace", "production", "apply", str(spec), "--auto-approve",
                  "--target", "globex", env={"ECPCTL_STATE_URL": url})
        assert other.exit_code == 0, other.output
        assert "Apply complete! Resources: 14 added" in other.output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
