"""Bad state and dead lock holders, through the CLI: what the user sees and how they recover.

- A row edited or truncated by hand: the next command stops with the checksum error naming the
  newest intact history version; `state pull --version N` + `state push --force` recovers.
- A database file truncated on disk: one clear line, nothing written; a pulled backup restores it.
- A lock whose holder was SIGKILLed: reported with holder, host, pid and age; `force-unlock` clears
  it. A live holder's lock is never taken over.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from state.keys import KEY_ENV, generate_key
from tests.unit.test_engine_crash import spawn, wait_for_lines

DEPLOY = "tenant.globex.kubernetes.apps/v1.Deployment.chatbot"
ROLE = "tenant.acme.postgres.role.acme_app"
CORRUPT = re.compile(r"^Error: state for workspace default is corrupt: (?P<what>.*) \(edited outside "
                     r"ecpctl\?\); recover with `ecpctl state pull --version (?P<version>\d+) > "
                     r"state\.json` and then `ecpctl state push --force state\.json`$")


def db(ecpctl) -> Path:
    return ecpctl.data_dir / "state.db"


def raw_sql(ecpctl, query: str, *params) -> None:
    """A person editing the database with sqlite3."""
    conn = sqlite3.connect(db(ecpctl))
    try:
        conn.execute(query, params)
        conn.commit()
    finally:
        conn.close()


def versions(ecpctl) -> list[int]:
    r = ecpctl("state", "history", "--json")
    assert r.exit_code == 0, r.output
    return [v["version"] for v in json.loads(r.output)["versions"]]


def corrupt_error(r) -> re.Match:
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    m = CORRUPT.match(lines[0])
    assert m, r.output
    return m


def recover(ecpctl, version: int, tmp_path: Path, env: dict | None = None) -> None:
    """`ecpctl state pull --version N > f && ecpctl state push f --force`."""
    r = ecpctl("state", "pull", "--version", str(version), env=env)
    assert r.exit_code == 0, r.output
    f = tmp_path / f"state-{version}.json"
    f.write_text(r.stdout)
    r = ecpctl("state", "push", str(f), "--force", env=env)
    assert r.exit_code == 0, r.output


def apply(ecpctl, spec_dir, *args, env=None):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", *args, env=env)
    assert r.exit_code == 0, r.output
    return r


# --- a state edited or truncated by hand ------------------------------------------------------

@pytest.mark.parametrize("edit", [
    "UPDATE resources SET data = replace(data, '\"replicas\":1', '\"replicas\":9') WHERE address = ?",
    "UPDATE resources SET data = substr(data, 1, length(data) / 2) WHERE address = ?",
    "UPDATE resources SET data = '' WHERE address = ?",
], ids=["edited", "truncated", "emptied"])
def test_a_row_changed_by_hand_stops_plan_and_history_recovers_it(ecpctl, spec_dir, tmp_path, edit):
    apply(ecpctl, spec_dir)
    newest = versions(ecpctl)[0]
    raw_sql(ecpctl, edit, DEPLOY)
    for args in (["plan", str(spec_dir)], ["apply", str(spec_dir), "--auto-approve"],
                 ["state", "list"], ["state", "pull"]):
        m = corrupt_error(ecpctl(*args))
        assert m["what"] == f"resource {DEPLOY} checksum mismatch"
        assert int(m["version"]) == newest
    assert versions(ecpctl)[0] == newest          # nothing was written on top
    recover(ecpctl, newest, tmp_path)
    r = ecpctl("plan", str(spec_dir))
    assert r.exit_code == 0 and "No changes." in r.output, r.output


def test_a_corrupt_newest_version_points_at_an_older_one(ecpctl, spec_dir, tmp_path):
    apply(ecpctl, spec_dir, "--target", "globex")
    older = versions(ecpctl)[0]
    apply(ecpctl, spec_dir)
    newest = versions(ecpctl)[0]
    raw_sql(ecpctl, "UPDATE versions SET document = substr(document, 1, 100) WHERE serial = ?", newest)
    raw_sql(ecpctl, "UPDATE resources SET checksum = 'x' WHERE address = ?", ROLE)
    m = corrupt_error(ecpctl("plan", str(spec_dir)))
    assert int(m["version"]) == older
    r = ecpctl("state", "pull", "--version", str(newest))
    assert corrupt_error(r)["what"] == f"version {newest} checksum mismatch"
    recover(ecpctl, older, tmp_path)
    # acme was applied after that version: its objects exist and are adopted, nothing is lost
    r = ecpctl("plan", str(spec_dir))
    assert r.exit_code == 0, r.output
    assert "exists but is not in state; it will be adopted" in r.output
    apply(ecpctl, spec_dir)
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


def test_an_encrypted_state_recovers_without_the_key_in_hand(ecpctl, spec_dir, tmp_path):
    key = {KEY_ENV: generate_key()}
    apply(ecpctl, spec_dir, env=key)
    newest = versions(ecpctl)[0]
    raw_sql(ecpctl, "UPDATE resources SET data = replace(data, '\"c\":\"', '\"c\":\"A') "
                    "WHERE address = ?", ROLE)
    m = corrupt_error(ecpctl("plan", str(spec_dir), env=key))
    assert m["what"] == f"resource {ROLE} checksum mismatch"
    recover(ecpctl, newest, tmp_path, env={KEY_ENV: None})   # documents keep their encryption
    assert "No changes." in ecpctl("plan", str(spec_dir), env=key).output


def test_a_truncated_database_file_is_one_clear_line_and_a_backup_restores_it(ecpctl, spec_dir,
                                                                             tmp_path):
    apply(ecpctl, spec_dir)
    backup = tmp_path / "backup.json"
    backup.write_text(ecpctl("state", "pull").stdout)
    size = db(ecpctl).stat().st_size
    with open(db(ecpctl), "r+b") as f:
        f.truncate(size // 2)
    damaged = db(ecpctl).read_bytes()
    for args in (["plan", str(spec_dir)], ["apply", str(spec_dir), "--auto-approve"],
                 ["state", "pull", "--version", "1"], ["state", "history"]):
        r = ecpctl(*args)
        assert r.exit_code == 1, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.output, r.output
        assert lines[0].startswith("Error: ") and "database disk image is malformed" in lines[0]
        assert "damaged" in lines[0] and "state push --force" in lines[0], lines[0]
    assert db(ecpctl).read_bytes() == damaged     # nothing was written
    db(ecpctl).rename(tmp_path / "damaged.db")
    r = ecpctl("state", "push", str(backup), "--force")
    assert r.exit_code == 0, r.output
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


# --- locks --------------------------------------------------------------------------------------

LOCKED = re.compile(r"state is locked by (?P<user>[^@\s]+)@(?P<host>\S+) \(pid (?P<pid>\d+)\) for "
                    r"(?P<op>[\w ]+) since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(held "
                    r"(?P<age>(\d+h)?(\d+m)?\d+s?)\); lock id (?P<id>[0-9a-f-]+), workspace default")


def killed_holder(ecpctl, spec_dir) -> int:
    """An apply that took the lock and was SIGKILLed mid-walk; its pid."""
    proc = spawn(ecpctl, "apply", str(spec_dir), "--auto-approve", "--parallelism", "1",
                 env={"ECPCTL_FAKE_DELAY": "0.3"})
    wait_for_lines(proc, r"Creation complete", 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return proc.pid


def test_a_dead_holders_lock_is_reported_and_force_unlock_clears_it(ecpctl, spec_dir, tmp_path):
    pid = killed_holder(ecpctl, spec_dir)
    f = tmp_path / "s.json"
    f.write_text(ecpctl("state", "pull").stdout)         # reading never needs the lock
    done = ecpctl("state", "list").stdout.split()
    assert len(done) >= 2
    lock_id = None
    for args in (["apply", str(spec_dir), "--auto-approve"], ["destroy", str(spec_dir), "--auto-approve"],
                 ["state", "rm", done[0]], ["state", "mv", done[0], done[0] + "2"],
                 ["state", "push", str(f)],
                 ["apply", str(spec_dir), "--auto-approve", "--lock-timeout", "5"]):
        r = ecpctl(*args)
        assert r.exit_code == 1, (args, r.output)
        m = LOCKED.search(r.output)
        assert m, r.output
        assert (m["host"], int(m["pid"]), m["op"]) == (socket.gethostname(), pid, "apply")
        assert m["age"]
        assert (f"the holder appears dead (no ecpctl holds this lock any more); if no ecpctl is "
                f"running for this workspace, release it with `ecpctl force-unlock {m['id']}`") \
            in r.output
        assert "timed out" not in r.output     # a dead holder is reported at once, never waited for
        lock_id = lock_id or m["id"]
        assert m["id"] == lock_id               # and never replaced by a new lock
    r = ecpctl("force-unlock", lock_id)                     # no terminal: confirmation is explicit
    assert r.exit_code == 1 and "needs confirmation: run it in a terminal, or pass --yes" in r.output
    r = ecpctl("force-unlock", lock_id, "--yes")
    assert r.exit_code == 0 and f"Released lock {lock_id} on workspace default." in r.output
    r = ecpctl("force-unlock", lock_id, "--yes")
    assert r.exit_code == 1 and f"holds no lock with id {lock_id}" in r.output
    apply(ecpctl, spec_dir)
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


@pytest.fixture
def live_holder(ecpctl, spec_dir):
    """An apply that holds the lock and is still running (slowly)."""
    proc = spawn(ecpctl, "apply", str(spec_dir), "--auto-approve", "--parallelism", "1",
                 env={"ECPCTL_FAKE_DELAY": "0.15"})
    seen = wait_for_lines(proc, r"Creating\.\.\.", 1)
    yield proc, seen
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def finish(proc: subprocess.Popen, seen: list[str]) -> str:
    rest = proc.stdout.read()
    proc.wait(timeout=120)
    return "".join(seen) + rest


def test_a_live_holders_lock_is_never_taken_over(ecpctl, spec_dir, tmp_path, live_holder):
    proc, seen = live_holder
    f = tmp_path / "s.json"
    f.write_text(ecpctl("state", "pull").stdout)
    for args in (["apply", str(spec_dir), "--auto-approve"],
                 ["apply", str(spec_dir), "--auto-approve", "--lock-timeout", "0.5"],
                 ["destroy", str(spec_dir), "--auto-approve"], ["state", "push", str(f), "--force"],
                 ["state", "mv", DEPLOY, DEPLOY + "2"]):
        r = ecpctl(*args)
        assert r.exit_code == 1, (args, r.output)
        m = LOCKED.search(r.output)
        assert m and int(m["pid"]) == proc.pid and m["host"] == socket.gethostname(), r.output
        assert "appears dead" not in r.output
        if "--lock-timeout" in args:
            assert "timed out after 0.5s waiting for the lock" in r.output
    r = ecpctl("force-unlock", m["id"])
    assert r.exit_code == 1 and "still running) for apply needs confirmation" in r.output
    out = finish(proc, seen)
    assert proc.returncode == 0, out                  # the holder finished undisturbed
    assert "Apply complete!" in out
    assert "No changes." in ecpctl("plan", str(spec_dir)).output


def test_a_force_unlocked_live_holder_stops_at_its_next_write(ecpctl, spec_dir, live_holder):
    proc, seen = live_holder
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    lock_id = LOCKED.search(r.output)["id"]
    assert ecpctl("force-unlock", lock_id, "--yes").exit_code == 0   # explicit, on purpose
    out = finish(proc, seen)
    assert proc.returncode == 1, out
    assert f"lock {lock_id} on workspace default is no longer held (force-unlocked?); nothing was " \
           "written" in out
    apply(ecpctl, spec_dir)                         # what it did not record is adopted or made
    assert "No changes." in ecpctl("plan", str(spec_dir)).output
