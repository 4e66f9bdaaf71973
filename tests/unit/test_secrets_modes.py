"""The secret scan in both modes, with a state key and without one, over every command and every
error path (fake provider; tests/integration/test_secrets_live.py runs it on the real providers).

Scanned: stdout and stderr of each command, the CLI's log file at debug level, crash files, saved
plans, rendered manifests, pulled documents and the state database's bytes. With a key, no secret
may appear anywhere. Without one, only the state itself may hold them: the database (and `state
pull`, which prints the database as a document, with its push back); nothing else.

The secrets are the generated passwords (two generations: a rotation runs), the Secrets' values
carrying them, the state keys, and the password of a state URL that cannot be reached.
"""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import UTC
from pathlib import Path

import pytest

from state.keys import KEY_ENV, NEW_KEY_ENV, generate_key
from tests.fakes.provider import FakeProvider, read_live
from tests.unit.test_secrets_scan import ROLE, SECRET, _detach_cli_log_handlers, forms, live_secrets

DSN_PASSWORD = "Dsn-pw-never-shown-7"


class Scan:
    """Runs commands in one mode and keeps everything they produced, by where it came from."""

    def __init__(self, ecpctl, tmp_path: Path, key: str | None):
        self.ecpctl = ecpctl
        self.tmp = tmp_path
        self.log_file = tmp_path / "ecpctl.log"
        self.crash_dir = tmp_path / "crashes"
        self.key = key
        self.outputs: list[str] = []        # never allowed to hold a secret
        self.state_dumps: list[str] = []    # `state pull`: the state itself
        self.files: list[Path] = []         # saved plans, rendered manifests, crash files
        self.secrets: set[str] = set()

    def env(self, **extra) -> dict:
        return {KEY_ENV: self.key, "ECPCTL_LOG": "debug", "ECPCTL_LOG_FILE": str(self.log_file),
                "ECPCTL_CRASH_DIR": str(self.crash_dir), **extra}

    def run(self, *args: str, code: int | None = 0, dump: bool = False, **extra) -> str:
        r = self.ecpctl(*args, env=self.env(**extra))
        text = f"$ ecpctl {' '.join(args)}\n{r.stdout}{r.stderr}"
        (self.state_dumps if dump else self.outputs).append(text)
        if code is not None:
            assert r.exit_code == code, (args, r.output[-3000:])
        return r.stdout

    def leaks(self) -> list[tuple[str, str]]:
        """(where, the first characters of the secret): never the secret itself."""
        _detach_cli_log_handlers()
        places = {"command output": "\n".join(self.outputs)}
        if self.log_file.exists():
            places["debug log"] = self.log_file.read_text()
        for f in [*self.files, *sorted(self.crash_dir.glob("*"))]:
            places[f.name] = f.read_bytes().decode("utf-8", "replace")
        if self.key is not None:            # with a key even the state holds none in clear
            places["state pull"] = "\n".join(self.state_dumps)
            places["state.db"] = b"".join(p.read_bytes() for p in
                                          sorted(self.ecpctl.data_dir.glob("state.db*"))).decode(
                "utf-8", "replace")
        return [(where, s[:4] + "...") for s in sorted(self.secrets) for where, text in places.items()
                if s in text]


@pytest.mark.parametrize("mode", ["with a key", "without a key"])
def test_no_secret_leaves_the_state_in_either_mode(mode, ecpctl, spec_dir, tmp_path, monkeypatch,
                                                   caplog):
    caplog.set_level(logging.DEBUG)
    key = generate_key() if mode == "with a key" else None
    scan = Scan(ecpctl, tmp_path, key)
    scan.secrets |= {key} if key else set()
    spec = str(spec_dir)

    # plans, a saved plan applied, a rotation
    plan1 = tmp_path / "first.plan"
    scan.run("validate", spec)
    scan.run("calc", spec)
    scan.run("plan", spec)
    scan.run("plan", spec, "--json", "-o", str(plan1))
    scan.files.append(plan1)
    scan.run("show", str(plan1))
    scan.run("show", str(plan1), "--json")
    scan.run("apply", str(plan1))
    scan.secrets |= live_secrets()
    scan.run("apply", spec, "--auto-approve", "-replace", ROLE)
    scan.secrets |= live_secrets()
    assert len(scan.secrets) >= 8 + bool(key)

    # read-only and state commands
    scan.run("plan", spec, "--detailed-exitcode")
    scan.run("graph", spec)
    render_dir = tmp_path / "rendered"
    scan.run("render", spec, "-o", str(render_dir))
    scan.files += sorted(p for p in render_dir.rglob("*") if p.is_file())
    scan.run("state", "list", "--json")
    scan.run("state", "show", ROLE)
    scan.run("state", "show", SECRET, "--json")
    scan.run("state", "history", "--json")
    scan.run("tenants", "--json")
    pulled = tmp_path / "pulled.json"
    pulled.write_text(scan.run("state", "pull", dump=True))
    scan.run("state", "push", str(pulled), "--force")
    scan.run("state", "rm", ROLE)
    scan.run("import", ROLE, "acme_app", "--path", spec)
    scan.run("state", "mv", SECRET, SECRET + "-moved")
    scan.run("state", "mv", SECRET + "-moved", SECRET)
    scan.run("workspace", "new", "other")
    scan.run("workspace", "list")
    scan.run("workspace", "show")
    scan.run("workspace", "select", "default")
    scan.run("workspace", "delete", "other")
    # a rekey to a new key, and back (or to clear text again)
    new = generate_key()
    scan.secrets.add(new)
    scan.run("state", "rekey", **{NEW_KEY_ENV: new})
    scan.run("state", "pull", dump=True, **{KEY_ENV: new})
    if key is None:
        scan.run("state", "rekey", "--decrypt", **{KEY_ENV: new})
    else:
        scan.run("state", "rekey", **{KEY_ENV: new, NEW_KEY_ENV: key})

    # error paths: a provider failure, a lock held by another, unreachable servers, a wrong key
    scan.run("apply", spec, "--auto-approve", "-replace", ROLE, code=1,
             ECPCTL_FAKE_FAIL="tenant.acme.kubernetes.v1.Secret.*")
    scan.secrets |= live_secrets()          # the role was rotated before its Secret failed
    scan.run("apply", spec, "--auto-approve")
    scan.run("status", "-p", spec, "--kubeconfig", str(_unreachable_kubeconfig(tmp_path)),
             code=1)
    scan.secrets |= forms(DSN_PASSWORD)
    scan.run("state", "list", code=1,
             ECPCTL_STATE_URL=f"postgresql://ecpctl:{DSN_PASSWORD}@127.0.0.1:1/state")
    if key is not None:
        scan.run("plan", spec, code=1, **{KEY_ENV: generate_key()})         # the wrong key
    scan.run("plan", spec, code=1, **{KEY_ENV: "not-a-key"})
    holder = subprocess.Popen(["sleep", "120"])
    try:
        lock_id = _hold_the_lock(ecpctl, holder.pid)
        scan.run("apply", spec, "--auto-approve", "-replace", ROLE, code=1)
        assert "state is locked" in scan.outputs[-1]
    finally:
        holder.kill()
        holder.wait()
    scan.run("force-unlock", lock_id, "--yes")

    # an unexpected exception with a secret in its message: one line, and a scrubbed crash file
    password = read_live(ROLE)["password"]

    def explode(self, req):
        raise RuntimeError(f"unexpected: {password}")
    monkeypatch.setattr(FakeProvider, "apply", explode)      # in the walk: that resource fails
    scan.run("apply", spec, "--auto-approve", "-replace", ROLE, code=1)
    assert "internal error: RuntimeError" in scan.outputs[-1]
    monkeypatch.setattr(FakeProvider, "read", explode)       # outside it: the command crashes
    scan.run("plan", spec, code=1)
    assert "internal error" in scan.outputs[-1]
    assert list(scan.crash_dir.glob("ecpctl-crash-*")), "no crash file was written"
    monkeypatch.undo()
    scan.run("destroy", spec, "--auto-approve")

    leaks = scan.leaks()
    assert leaks == [], leaks


def test_without_a_key_a_saved_plan_holds_no_secret(ecpctl, spec_dir, tmp_path):
    out = tmp_path / "p.plan"
    assert ecpctl("plan", str(spec_dir), "-o", str(out), env={KEY_ENV: None}).exit_code == 0
    assert ecpctl("apply", str(out), env={KEY_ENV: None}).exit_code == 0
    secrets = live_secrets()
    assert secrets
    text = out.read_text()
    assert [s[:4] for s in secrets if s in text] == []


def _unreachable_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig for a server that refuses connections, with a bearer token to keep secret."""
    path = tmp_path / "unreachable.kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "x", "user": {"token": DSN_PASSWORD}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}))
    return path


def _hold_the_lock(ecpctl, holder_pid: int) -> str:
    """Another live holder's lock: a row naming a running process of this host."""
    import sqlite3
    import uuid
    from datetime import datetime

    from state.lock import this_host
    lock_id = str(uuid.uuid4())
    conn = sqlite3.connect(ecpctl.data_dir / "state.db")
    with conn:
        conn.execute("INSERT INTO locks (workspace, id, holder, host, pid, operation, created_at) "
                     "VALUES ('default', ?, 'someone@elsewhere', ?, ?, 'apply', ?)",
                     (lock_id, this_host(), holder_pid,
                      datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")))
    conn.close()
    return lock_id
