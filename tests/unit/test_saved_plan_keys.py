"""Saved plans made without a state key: their secrets are sealed with a key of the plan's own,
which the state database keeps (never the plan file); `apply FILE` reads it back, a state that does
not hold it refuses the plan in one line, and the key goes once the plan is applied or stale.

Through the CLI with the fake provider, on the SQLite state here and on a real Postgres state in
tests/integration/test_state_crypto_postgres.py (which overrides the `states` fixture).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pytest

from state.keys import KEY_ENV, generate_key
from tests.fakes.provider import read_live
from tests.unit.test_secrets_cli import one_error_line
from tests.unit.test_secrets_scan import ROLE, live_secrets
from tests.unit.test_state_crypto import sql

URL_ENV = "ECPCTL_STATE_URL"
REFUSED = "refused: it was made without a state key, so the key to its secrets is kept only in " \
          "the state it was made from, and "


@dataclass(frozen=True)
class States:
    env: dict           # the environment of commands on the state plans are made against
    url: str            # that state's URL, to look into its tables
    other: dict         # the environment of commands on another state


@pytest.fixture
def states(ecpctl, tmp_path) -> States:
    """The default SQLite state in the data dir, and another SQLite file."""
    return States(env={KEY_ENV: None, URL_ENV: None},
                  url=f"sqlite:///{ecpctl.data_dir / 'state.db'}",
                  other={KEY_ENV: None, URL_ENV: f"sqlite:///{tmp_path / 'other.db'}"})


def kept(states: States) -> list[tuple[str, str, int]]:
    return sorted(tuple(r) for r in sql(states.url, "SELECT id, workspace, serial FROM plan_keys"))


def ok(r) -> str:
    assert r.exit_code == 0, r.output[-3000:]
    assert "Traceback" not in r.output
    return r.output


def test_the_plan_file_holds_no_secret_and_the_state_keeps_its_key(ecpctl, spec_dir, states,
                                                                   tmp_path):
    ok(ecpctl("apply", str(spec_dir), "--auto-approve", env=states.env))
    before = live_secrets()             # in the plan's prior records: kept in state in clear
    out = tmp_path / "rotate.plan"
    ok(ecpctl("plan", str(spec_dir), "-replace", ROLE, "-o", str(out), env=states.env))
    doc = json.loads(out.read_text())
    role = next(c for c in doc["changes"] if c["address"] == ROLE)
    assert role["after"]["password"]["$enc"] == "aesgcm/v1"
    assert role["prior"]["attributes"]["password"]["$enc"] == "aesgcm/v1"
    serial = doc["serial"]
    assert kept(states) == [(doc["plan_key_id"], "default", serial)]
    (secret,) = sql(states.url, "SELECT secret FROM plan_keys")[0]
    data = out.read_bytes()
    assert secret.encode() not in data
    assert base64.b64decode(secret).hex().encode() not in data

    out_text = ok(ecpctl("apply", str(out), env=states.env))
    assert "Apply complete!" in out_text
    after = live_secrets()
    assert after - before, "the rotation made no new password"
    assert [s[:4] for s in before | after if s.encode() in data] == []
    assert kept(states) == []           # applied: its key is gone
    # the password applied is the one planned: live role and state agree, and nothing is left
    pulled = json.loads(ok(ecpctl("state", "pull", env=states.env)))
    stored = next(r for r in pulled["resources"] if r["address"] == ROLE)
    assert stored["attributes"]["password"] == read_live(ROLE)["password"]
    assert "No changes." in ok(ecpctl("plan", str(spec_dir), env=states.env))


def test_a_saved_plan_is_shown_and_applied_on_a_fresh_state(ecpctl, spec_dir, states, tmp_path):
    out = tmp_path / "p.plan"
    ok(ecpctl("plan", str(spec_dir), "-o", str(out), env=states.env))
    shown = ok(ecpctl("show", str(out), env=states.env))
    assert "(sensitive value)" in shown
    assert ok(ecpctl("apply", str(out), env=states.env)).count("stored unencrypted in state") == 1
    assert read_live(ROLE)["password"]
    assert kept(states) == []


def test_a_saved_plan_applied_to_another_state_is_refused_in_one_line(ecpctl, spec_dir, states,
                                                                      tmp_path):
    out = tmp_path / "p.plan"
    ok(ecpctl("plan", str(spec_dir), "-o", str(out), env=states.env))
    for command in ("apply", "show"):
        msg = one_error_line(ecpctl(command, str(out), env=states.other))
        assert msg.startswith(f"saved plan {out} {REFUSED}state "), msg
        assert "(workspace default) does not hold it (the plan was made against another state" in msg
    assert read_live(ROLE) is None      # nothing was applied anywhere
    ok(ecpctl("apply", str(out), env=states.env))      # its own state still applies it
    assert read_live(ROLE) is not None


def test_a_plan_whose_key_was_removed_from_state_is_refused(ecpctl, spec_dir, states, tmp_path):
    ok(ecpctl("apply", str(spec_dir), "--auto-approve", env=states.env))
    out = tmp_path / "p.plan"
    ok(ecpctl("plan", str(spec_dir), "-replace", ROLE, "-o", str(out), env=states.env))
    sql(states.url, "DELETE FROM plan_keys")
    password = read_live(ROLE)["password"]
    msg = one_error_line(ecpctl("apply", str(out), env=states.env))
    assert msg.startswith(f"saved plan {out} {REFUSED}state "), msg
    assert read_live(ROLE)["password"] == password


def test_a_newer_serial_supersedes_the_plans_made_before_it(ecpctl, spec_dir, states, tmp_path):
    ok(ecpctl("apply", str(spec_dir), "--auto-approve", env=states.env))
    first, second = tmp_path / "first.plan", tmp_path / "second.plan"
    for out in (first, second):          # two plans at one serial: a key each
        ok(ecpctl("plan", str(spec_dir), "-replace", ROLE, "-o", str(out), env=states.env))
    serial = json.loads(first.read_text())["serial"]
    assert [s for _, _, s in kept(states)] == [serial, serial]
    ok(ecpctl("apply", str(second), env=states.env))
    assert kept(states) == []           # the first is stale now: its key went too
    msg = one_error_line(ecpctl("apply", str(first), env=states.env))
    assert msg.startswith(f"saved plan is stale: it was made at state serial {serial}, but the "
                          "state is now at serial "), msg
    # an apply that is not of a saved plan moves the serial on too
    ok(ecpctl("plan", str(spec_dir), "-replace", ROLE, "-o", str(first), env=states.env))
    assert len(kept(states)) == 1
    ok(ecpctl("apply", str(spec_dir), "-replace", ROLE, "--auto-approve", env=states.env))
    assert kept(states) == []


def test_no_key_is_kept_for_a_plan_without_secrets_or_with_a_state_key(ecpctl, spec_dir, states,
                                                                       tmp_path):
    key = generate_key()
    with_key = {**states.env, KEY_ENV: key}
    ok(ecpctl("apply", str(spec_dir), "--auto-approve", env=with_key))
    out = tmp_path / "p.plan"
    ok(ecpctl("plan", str(spec_dir), "-replace", ROLE, "-o", str(out), env=with_key))
    assert "plan_key_id" not in json.loads(out.read_text())
    assert kept(states) == []
    ok(ecpctl("apply", str(out), env=with_key))
    ok(ecpctl("state", "rekey", "--decrypt", env=with_key))
    ok(ecpctl("plan", str(spec_dir), "-o", str(out), env=states.env))       # No changes.
    assert "plan_key_id" not in json.loads(out.read_text())
    assert kept(states) == []


def test_deleting_a_workspace_forgets_its_plans_keys(ecpctl, spec_dir, states, tmp_path):
    ok(ecpctl("workspace", "new", "demo", env=states.env))          # and selects it
    out = tmp_path / "p.plan"
    ok(ecpctl("plan", str(spec_dir), "-o", str(out), env=states.env))
    assert [w for _, w, _ in kept(states)] == ["demo"]
    ok(ecpctl("workspace", "select", "default", env=states.env))
    ok(ecpctl("workspace", "delete", "demo", env=states.env))
    assert kept(states) == []
