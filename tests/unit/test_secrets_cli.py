"""Encryption at rest through the CLI: keys from the environment or the Project, missing and wrong
keys, saved plans, `state rekey`, and the commands that work without the key."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from state.keys import KEY_ENV, KEY_FILE_ENV, NEW_KEY_ENV, generate_key, parse_key

ROLE = "tenant.acme.postgres.role.acme_app"
NO_KEY = {KEY_ENV: None}


def kid(key: str) -> str:
    return parse_key(key, KEY_ENV).kid


def db_digest(ecpctl) -> str:
    """The database's bytes (and its WAL's): a command that writes nothing leaves them as they were."""
    h = hashlib.sha256()
    for p in sorted(ecpctl.data_dir.glob("state.db*")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def stored_kids(ecpctl) -> set[str]:
    from state.crypto import key_ids
    doc = json.loads(ecpctl("state", "pull", env=NO_KEY).output)
    return key_ids(doc["resources"])


def one_error_line(r) -> str:
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    assert "Traceback" not in r.output
    return lines[0][len("Error: "):]


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def applied(ecpctl, spec_dir, key):
    r = ecpctl("apply", str(spec_dir), "--auto-approve", env={KEY_ENV: key})
    assert r.exit_code == 0, r.output
    return key


def test_without_the_key_commands_that_need_values_fail_clearly_and_write_nothing(
        ecpctl, spec_dir, applied, tmp_path):
    before = db_digest(ecpctl)
    expected = f"state is encrypted (key id {kid(applied)}) but ECPCTL_STATE_KEY is not set"
    out = tmp_path / "p.plan"
    for args in (["plan", str(spec_dir)], ["plan", str(spec_dir), "-o", str(out)],
                 ["apply", str(spec_dir), "--auto-approve"], ["destroy", str(spec_dir), "--auto-approve"],
                 ["state", "mv", ROLE, ROLE + "2"],
                 ["import", ROLE, "acme_app", "--path", str(spec_dir)]):
        r = ecpctl(*args, env=NO_KEY)
        assert one_error_line(r).startswith(expected), (args, r.output)
    assert not out.exists()
    assert db_digest(ecpctl) == before
    assert ecpctl("state", "list", "--json", env=NO_KEY).exit_code == 0   # no lock was left


def test_without_the_key_listing_commands_still_work(ecpctl, spec_dir, applied):
    for args in (["state", "list"], ["state", "list", "--json"], ["tenants"], ["tenants", "--json"],
                 ["state", "history"], ["state", "pull"], ["workspace", "list"]):
        r = ecpctl(*args, env=NO_KEY)
        assert r.exit_code == 0, (args, r.output)
    shown = json.loads(ecpctl("state", "show", ROLE, "--json", env=NO_KEY).output)
    assert shown["attributes"]["password"] == "(sensitive value)"
    assert shown["attributes"]["name"] == "acme_app"
    r = ecpctl("state", "rm", ROLE, env=NO_KEY)    # forgetting needs no value
    assert r.exit_code == 0, r.output


def test_a_wrong_key_fails_clearly_and_writes_nothing(ecpctl, spec_dir, applied):
    before = db_digest(ecpctl)
    other = generate_key()
    for args in (["plan", str(spec_dir)], ["apply", str(spec_dir), "--auto-approve"],
                 ["state", "mv", ROLE, ROLE + "2"]):
        msg = one_error_line(ecpctl(*args, env={KEY_ENV: other}))
        assert msg.startswith(f"ECPCTL_STATE_KEY does not decrypt this state (key id {kid(applied)}; "
                              f"the key given has id {kid(other)})"), msg
    assert db_digest(ecpctl) == before


def test_an_invalid_key_is_one_line_naming_the_variable(ecpctl, spec_dir):
    msg = one_error_line(ecpctl("plan", str(spec_dir), env={KEY_ENV: "hunter2"}))
    assert msg.startswith("ECPCTL_STATE_KEY is not a valid state key") and "hunter2" not in msg


def test_saved_plans_are_encrypted_and_need_the_key(ecpctl, spec_dir, key, tmp_path):
    out = tmp_path / "p.plan"
    r = ecpctl("plan", str(spec_dir), "-o", str(out), env={KEY_ENV: key})
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    role = next(c for c in doc["changes"] if c["address"] == ROLE)
    for value in (role["after"]["password"], role["desired"]["attributes"]["password"]):
        assert value["$enc"] == "aesgcm/v1" and value["kid"] == kid(key)
    msg = one_error_line(ecpctl("apply", str(out), env=NO_KEY))
    assert msg.startswith(f"saved plan {out} is encrypted (key id {kid(key)}) but ECPCTL_STATE_KEY "
                          "is not set")
    msg = one_error_line(ecpctl("apply", str(out), env={KEY_ENV: generate_key()}))
    assert msg.startswith(f"ECPCTL_STATE_KEY does not decrypt saved plan {out} (key id {kid(key)}")
    assert "run plan again" in msg
    r = ecpctl("apply", str(out), env={KEY_ENV: key})
    assert r.exit_code == 0, r.output
    assert "No changes." in ecpctl("plan", str(spec_dir), env={KEY_ENV: key}).output
    # the password applied is the one that was planned: the live role and state agree
    assert stored_kids(ecpctl) == {kid(key)}


def test_a_saved_plan_moved_to_another_change_does_not_decrypt(ecpctl, spec_dir, key, tmp_path):
    out = tmp_path / "p.plan"
    assert ecpctl("plan", str(spec_dir), "-o", str(out), env={KEY_ENV: key}).exit_code == 0
    original = json.loads(out.read_text())
    for target, path in (("tenant.acme.kubernetes.v1.Secret.ecp-ai-db", "data"),      # sensitive
                         ("tenant.acme.postgres.role.acme_owner", "password")):       # not
        doc = json.loads(json.dumps(original))
        changes = {c["address"]: c for c in doc["changes"]}
        changes[target]["desired"]["attributes"][path] = \
            changes[ROLE]["desired"]["attributes"]["password"]
        out.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        msg = one_error_line(ecpctl("apply", str(out), env={KEY_ENV: key}))
        assert f"cannot decrypt plan.desired.attributes.{path} of {target}" in msg
        assert "does not authenticate" in msg


def with_key_file(spec_dir: Path, name: str = "keys/state.key") -> str:
    key = generate_key()
    (spec_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (spec_dir / name).write_text(key + "\n")
    project = spec_dir / "project.yaml"
    project.write_text(project.read_text().replace("spec:\n", f"spec:\n  state:\n    keyFile: {name}\n", 1))
    return key


def test_the_projects_key_file_is_read_relative_to_the_project(ecpctl, spec_dir, tmp_path,
                                                               monkeypatch):
    key = with_key_file(spec_dir)
    monkeypatch.chdir(tmp_path)        # PATH "specs" is relative: the key file is specs/keys/...
    r = ecpctl("apply", "specs", "--auto-approve", env=NO_KEY)
    assert r.exit_code == 0, r.output
    assert stored_kids(ecpctl) == {kid(key)}
    assert "No changes." in ecpctl("plan", "specs", env=NO_KEY).output
    out = tmp_path / "rotate.plan"
    r = ecpctl("plan", "specs", "-replace", ROLE, "-o", str(out), env=NO_KEY)
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["state_key_file"] == "specs/keys/state.key"
    r = ecpctl("apply", str(out), env=NO_KEY)      # the plan says where its key file is
    assert r.exit_code == 0, r.output
    # state commands do not read specs: they take the key from the environment
    msg = one_error_line(ecpctl("state", "mv", ROLE, ROLE + "2", env=NO_KEY))
    assert msg.startswith(f"state is encrypted (key id {kid(key)})")
    r = ecpctl("state", "mv", ROLE, ROLE + "2", env={KEY_FILE_ENV: "specs/keys/state.key"})
    assert r.exit_code == 0, r.output
    # the environment's key wins over the Project's
    msg = one_error_line(ecpctl("plan", "specs", env={KEY_ENV: generate_key()}))
    assert msg.startswith("ECPCTL_STATE_KEY does not decrypt this state")


def test_a_missing_key_file_is_named(ecpctl, spec_dir):
    with_key_file(spec_dir)
    (spec_dir / "keys" / "state.key").unlink()
    msg = one_error_line(ecpctl("plan", str(spec_dir), env=NO_KEY))
    assert msg.startswith(f"cannot read the state key file {spec_dir}/keys/state.key: No such file")


def test_a_key_file_added_later_encrypts_what_is_written_from_then_on(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve", env=NO_KEY).exit_code == 0
    key = with_key_file(spec_dir)
    assert stored_kids(ecpctl) == set()                  # written in clear, still readable
    r = ecpctl("apply", str(spec_dir), "-replace", ROLE, "--auto-approve", env=NO_KEY)
    assert r.exit_code == 0, r.output
    doc = json.loads(ecpctl("state", "pull", env=NO_KEY).output)
    role = next(x for x in doc["resources"] if x["address"] == ROLE)
    assert role["attributes"]["password"]["kid"] == kid(key)
    r = ecpctl("state", "rekey", env={NEW_KEY_ENV: key, KEY_ENV: key})   # the rest, at once
    assert r.exit_code == 0, r.output
    assert "Re-encrypted 4 value(s) in 2 resource(s)" in r.output


def test_rekey_through_the_cli(ecpctl, spec_dir, applied, tmp_path):
    new = generate_key()
    new_file = tmp_path / "new.key"
    new_file.write_text(new)
    versions = len(json.loads(ecpctl("state", "history", "--json").output)["versions"])
    r = ecpctl("state", "rekey", "--new-key-file", str(new_file), env={KEY_ENV: applied})
    assert r.exit_code == 0, r.output
    assert (f"Re-encrypted 4 value(s) in 2 resource(s) and 4 value(s) in {versions} history "
            f"version(s) of workspace default (key {kid(applied)} -> key {kid(new)}).") in r.output
    assert stored_kids(ecpctl) == {kid(new)}
    msg = one_error_line(ecpctl("plan", str(spec_dir), env={KEY_ENV: applied}))
    assert f"(key id {kid(new)}; the key given has id {kid(applied)})" in msg
    assert "No changes." in ecpctl("plan", str(spec_dir), env={KEY_ENV: new}).output
    # every kept version moved too: an old one opens with the new key and recovers the state
    oldest = json.loads(ecpctl("state", "history", "--json").output)["versions"][-1]["version"]
    pulled = tmp_path / "old.json"
    pulled.write_text(ecpctl("state", "pull", "--version", str(oldest), env=NO_KEY).output)
    assert ecpctl("state", "push", str(pulled), "--force", env={KEY_ENV: new}).exit_code == 0
    assert "No changes." in ecpctl("plan", str(spec_dir), env={KEY_ENV: new}).output

    r = ecpctl("state", "rekey", "--decrypt", env={KEY_ENV: new})
    assert r.exit_code == 0, r.output
    assert "Decrypted 4 value(s) in 2 resource(s)" in r.output and "clear text" in r.output
    assert stored_kids(ecpctl) == set()
    assert "No changes." in ecpctl("plan", str(spec_dir), env=NO_KEY).output
    r = ecpctl("state", "rekey", env={**NO_KEY, NEW_KEY_ENV: applied})
    assert r.exit_code == 0, r.output
    assert "Encrypted 4 value(s) in 2 resource(s)" in r.output
    assert stored_kids(ecpctl) == {kid(applied)}


def test_rekey_refuses_what_it_cannot_do(ecpctl, spec_dir, applied, tmp_path):
    before = db_digest(ecpctl)
    msg = one_error_line(ecpctl("state", "rekey", env={KEY_ENV: applied, NEW_KEY_ENV: None}))
    assert msg.startswith("no new key: give --new-key-file FILE or set ECPCTL_STATE_NEW_KEY")
    msg = one_error_line(ecpctl("state", "rekey", env={**NO_KEY, NEW_KEY_ENV: generate_key()}))
    assert msg.startswith(f"state is encrypted (key id {kid(applied)}) but ECPCTL_STATE_KEY is not set")
    msg = one_error_line(ecpctl("state", "rekey", env={KEY_ENV: generate_key(),
                                                       NEW_KEY_ENV: generate_key()}))
    assert msg.startswith("ECPCTL_STATE_KEY does not decrypt this state")
    msg = one_error_line(ecpctl("state", "rekey", env={KEY_ENV: applied, NEW_KEY_ENV: "short"}))
    assert msg.startswith("ECPCTL_STATE_NEW_KEY is not a valid state key")
    f = tmp_path / "k"
    f.write_text(generate_key())
    msg = one_error_line(ecpctl("state", "rekey", "--decrypt", "--new-key-file", str(f),
                                env={KEY_ENV: applied}))
    assert "exclude each other" in msg
    assert db_digest(ecpctl) == before
    assert ecpctl("state", "list", env=NO_KEY).exit_code == 0       # and no lock was left behind


def test_an_encrypted_state_copied_into_another_workspace(ecpctl, spec_dir, applied, tmp_path):
    pulled = tmp_path / "prod.json"
    pulled.write_text(ecpctl("state", "pull", env=NO_KEY).output)
    assert ecpctl("workspace", "new", "copy").exit_code == 0
    msg = one_error_line(ecpctl("state", "push", str(pulled), env=NO_KEY))
    assert "holds values encrypted for workspace default" in msg
    r = ecpctl("state", "push", str(pulled), env={KEY_ENV: applied})
    assert r.exit_code == 0, r.output
    out = ecpctl("plan", str(spec_dir), env={KEY_ENV: applied}).output
    # its secrets open and none is regenerated: the only changes are the dashboards taking the
    # workspace's own Grafana uids (docs/ownership.md)
    changed = re.findall(r"# (\S+) will be", out)
    assert changed and all(".ConfigMap.ecp-ai-dashboard-" in a for a in changed), out
