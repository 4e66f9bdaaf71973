"""No generated secret leaks: every output of a whole run with a state key is scanned for them.

The run covers plan (human, --json, -o), apply of a saved plan, a password rotation, state show,
list, pull (with and without the key), history, tenants, failing commands and destroy. Scanned:
stdout and stderr of each command, every log record (SQLAlchemy's statements and parameters
included), the raw bytes of the SQLite database and its WAL, and the saved plan files. The secrets
are read from the fake provider's "live" objects, which hold them in clear like a real server.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

from state.keys import KEY_ENV, generate_key
from tests.fakes.provider import read_live

ROLE = "tenant.acme.postgres.role.acme_app"
SECRET = "tenant.acme.kubernetes.v1.Secret.ecp-ai-db"


def forms(value: str) -> set[str]:
    """A secret as it could leak: itself, and base64 of it (standard and url-safe, unpadded)."""
    raw = value.encode()
    out = {value}
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        out.add(enc(raw).decode())
        out.add(enc(raw).decode().rstrip("="))
    return out


def live_secrets() -> set[str]:
    """Generated values as the live systems hold them: the role's password and the Secret's data."""
    found: set[str] = set()
    role = read_live(ROLE)
    if role:
        found |= forms(role["password"])
    sec = read_live(SECRET)
    if sec:
        for v in sec["data"].values():
            found.add(v)
            found |= forms(base64.b64decode(v).decode())
    return found


def db_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("state.db*")))


def test_no_output_of_a_run_holds_a_generated_secret(ecpctl, spec_dir, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")   # statements and their parameters
    key = generate_key()
    # the CLI's own logging at debug level, through its scrubbing handler, into a file
    log_file = tmp_path / "ecpctl.log"
    logs = {"ECPCTL_LOG": "debug", "ECPCTL_LOG_FILE": str(log_file)}
    with_key = {KEY_ENV: key, **logs}
    no_key = {KEY_ENV: None, **logs}
    outputs: list[str] = []
    secrets: set[str] = set()
    blobs: dict[str, bytes] = {}

    def run(*args: str, env=with_key, code: int = 0) -> str:
        r = ecpctl(*args, env=env)
        outputs.append(f"$ ecpctl {' '.join(args)}\n{r.stdout}{r.stderr}")
        assert r.exit_code == code, (args, r.output)
        return r.stdout

    def snapshot_files(tag: str) -> None:
        blobs[f"{tag}: state.db"] = db_bytes(ecpctl.data_dir)

    plan1 = tmp_path / "first.plan"
    run("plan", str(spec_dir))
    run("plan", str(spec_dir), "--json")
    run("plan", str(spec_dir), "-o", str(plan1))
    run("apply", str(plan1))
    secrets |= live_secrets()
    assert len(secrets) > 4
    blobs["first.plan"] = plan1.read_bytes()
    snapshot_files("after apply")

    run("plan", str(spec_dir))
    run("plan", str(spec_dir), "--json")
    run("state", "show", ROLE)
    run("state", "show", ROLE, "--json")
    run("state", "show", SECRET, "--json", env=no_key)
    run("state", "list", "--json", env=no_key)
    run("tenants", "--json", env=no_key)
    run("state", "history", "--json", env=no_key)
    pulled = run("state", "pull", env=no_key)
    assert '"$enc": "aesgcm/v1"' in pulled
    run("state", "pull")
    version = json.loads(run("state", "history", "--json"))["versions"][0]["version"]
    run("state", "pull", "--version", str(version), env=no_key)

    # a password rotation: the new password goes through a saved plan too
    plan2 = tmp_path / "rotate.plan"
    run("plan", str(spec_dir), "-replace", ROLE, "--json", "-o", str(plan2))
    run("apply", str(plan2))
    secrets |= live_secrets()
    blobs["rotate.plan"] = plan2.read_bytes()
    snapshot_files("after rotation")

    # failing commands print errors, never values
    run("plan", str(spec_dir), env=no_key, code=1)
    run("plan", str(spec_dir), env={KEY_ENV: generate_key()}, code=1)
    run("apply", str(plan2), env=no_key, code=1)
    run("state", "mv", ROLE, ROLE + "2", env=no_key, code=1)

    run("destroy", str(spec_dir), "--auto-approve")
    snapshot_files("after destroy")
    run("state", "pull", "--version", str(version), env=no_key)

    assert len(secrets) > 8          # two generations of the role's password, and their Secrets
    _detach_cli_log_handlers()
    logged = log_file.read_text()
    # every statement of the state store was logged with its duration, and with its text at debug
    assert " INFO ecpctl.state: INSERT on sqlite -> 1 rows in " in logged
    assert " DEBUG ecpctl.state: SQL INSERT INTO " in logged
    text = "\n".join(outputs) + "\n" + caplog.text + "\n" + logged
    assert "sqlalchemy" in caplog.text.lower() or "INSERT" in caplog.text   # the logs were there
    leaks = []      # where, and the first characters only: a failure must not print secrets
    for s in sorted(secrets | {key}):
        if s in text:
            leaks.append(("command output or logs", s[:4] + "..."))
        leaks += [(name, s[:4] + "...") for name, blob in blobs.items() if s.encode() in blob]
    assert leaks == []


def _detach_cli_log_handlers() -> None:
    """The in-process CLI runs attached a file handler per run; later tests must not log there."""
    for name in ("ecpctl", "providers", "state"):
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            if isinstance(h, logging.FileHandler):
                logger.removeHandler(h)
                h.close()
        logger.setLevel(logging.NOTSET)
