"""Without a state key, `apply` says once, in one line, that generated secrets are stored
unencrypted in state and how to have them encrypted; with a key, or with nothing secret to write,
it says nothing. docs/state.md shows the same line."""

from __future__ import annotations

import json
from pathlib import Path

from ecpctl.cli.key_notice import NOTICE
from state.keys import KEY_ENV, generate_key

DOC = Path(__file__).resolve().parents[2] / "docs" / "state.md"
NO_KEY = {KEY_ENV: None}


def notices(output: str) -> list[str]:
    return [line for line in output.splitlines() if "stored unencrypted in state" in line]


def test_apply_without_a_key_says_it_once_in_one_line(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", env=NO_KEY)
    assert r.exit_code == 0, r.output
    assert notices(r.output) == [f"Warning: {NOTICE}"]
    assert "Apply complete!" in r.output
    # a password rotation writes a new secret: said again, once
    r = ecpctl("apply", str(spec_dir), "--auto-approve", "-replace",
               "tenant.acme.postgres.role.acme_app", env=NO_KEY)
    assert r.exit_code == 0, r.output
    assert len(notices(r.output)) == 1


def test_nothing_is_said_with_a_key_or_without_a_secret_to_write(ecpctl, spec_dir):
    key = {KEY_ENV: generate_key()}
    r = ecpctl("apply", str(spec_dir), "--auto-approve", env=key)
    assert r.exit_code == 0, r.output
    assert notices(r.output) == []
    r = ecpctl("apply", str(spec_dir), "--auto-approve", env=key)       # No changes.
    assert notices(r.output) == []
    r = ecpctl("destroy", str(spec_dir), "--auto-approve", env=key)     # deletes write no secret
    assert r.exit_code == 0, r.output
    assert notices(r.output) == []


def test_a_saved_plan_applied_without_a_key_says_it_too(ecpctl, spec_dir, tmp_path):
    out = tmp_path / "p.plan"
    assert ecpctl("plan", str(spec_dir), "-o", str(out), env=NO_KEY).exit_code == 0
    r = ecpctl("apply", str(out), env=NO_KEY)
    assert r.exit_code == 0, r.output
    assert notices(r.output) == [f"Warning: {NOTICE}"]


def test_json_apply_carries_it_as_one_warning_message(ecpctl, spec_dir):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", "--json", env=NO_KEY)
    assert r.exit_code == 0, r.output
    found = [m for m in (json.loads(line) for line in r.stdout.splitlines() if line.startswith("{"))
             if NOTICE in json.dumps(m)]
    assert len(found) == 1, r.stdout[-3000:]


def test_docs_state_md_says_the_same():
    text = DOC.read_text()
    assert f"Warning: {NOTICE}" in text
    assert "generated secrets are stored unencrypted in state" in text
