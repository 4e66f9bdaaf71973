"""Encryption at rest of sensitive values (AES-256-GCM, state/crypto.py) through the store's API."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
from ecpctl.kernel import Address
from sqlalchemy import create_engine, text

from ecpctl.kernel import StateError
from ecpctl.kernel import ResourceState
from state import StateStore
from state.crypto import ENC, SCHEME, KeyMissing, Sealer, WrongKey
from state.keys import (KEY_ENV, KEY_FILE_ENV, StateKey, generate_key, key_from_env, key_id,
                        parse_key, read_key_file)

PASSWORD = "gen-Pa55word-7f3k"
ADDRESS = "tenant.acme.kubernetes.v1.Secret.db"


def secret(address: str = ADDRESS) -> ResourceState:
    return ResourceState(
        addr=Address.parse(address), attributes={"metadata": {"name": "db"}, "data": {"password": PASSWORD},
                    "users": [{"name": "svc", "password": PASSWORD}]},
        observed={"data": {"password": PASSWORD}},
        sensitive=("data", "users[0].password"))


def new_key(source: str = KEY_ENV) -> StateKey:
    return parse_key(generate_key(), source)


@pytest.fixture
def state_url(tmp_path) -> str:
    """Named like test_state_store's, so an integration module can run these on Postgres too."""
    return f"sqlite:///{tmp_path / 's.db'}"


@pytest.fixture
def url(state_url) -> str:
    return state_url


def opened(url, tmp_path, key):
    return StateStore.open(url, data_dir=tmp_path, key=key)


def sql(url: str, query: str, **params):
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(query), params)
            return result.fetchall() if result.returns_rows else []
    finally:
        engine.dispose()


def stored_text(url: str) -> str:
    return "\n".join(r[0] for r in sql(url, "SELECT data FROM resources")
                     + sql(url, "SELECT document FROM versions"))


def row(url: str, address: str = ADDRESS) -> dict:
    return json.loads(sql(url, "SELECT data FROM resources WHERE address = :a", a=address)[0][0])


def write_row(url: str, data: dict, address: str = ADDRESS) -> None:
    """Edit a row the way someone with sqlite3 would, checksum included (so only AES-GCM notices)."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"))
    sql(url, "UPDATE resources SET data = :d, checksum = :c WHERE address = :a",
        d=body, c=hashlib.sha256(body.encode()).hexdigest(), a=address)


# --- keys ------------------------------------------------------------------------------------

def test_keys_are_32_bytes_in_standard_or_url_safe_base64():
    raw = os.urandom(32)
    for form in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
                 base64.urlsafe_b64encode(raw).decode().rstrip("="),
                 " " + base64.b64encode(raw).decode() + "\n"):
        key = parse_key(form, KEY_ENV)
        assert key.secret == raw and key.kid == hashlib.sha256(raw).hexdigest()[:8]
    assert raw.hex() not in repr(key) and base64.b64encode(raw).decode() not in repr(key)


@pytest.mark.parametrize("bad", ["not-a-key", base64.b64encode(os.urandom(16)).decode(),
                                 base64.b64encode(os.urandom(33)).decode(), "é" * 44])
def test_a_bad_key_is_named_by_its_source_never_echoed(bad):
    with pytest.raises(StateError) as err:
        parse_key(bad, KEY_ENV)
    msg = str(err.value)
    assert msg.startswith(f"{KEY_ENV} is not a valid state key: it must be 32 random bytes in base64")
    assert "openssl rand -base64 32" in msg and bad not in msg


def test_key_files_and_precedence(tmp_path):
    k1, k2 = generate_key(), generate_key()
    f = tmp_path / "state.key"
    f.write_text(k2 + "\n")
    assert read_key_file(f).source == f"key file {f}"
    assert key_from_env({}) is None
    assert key_from_env({KEY_FILE_ENV: str(f)}).kid == parse_key(k2, "x").kid
    assert key_from_env({KEY_ENV: k1, KEY_FILE_ENV: str(f)}).kid == parse_key(k1, "x").kid
    with pytest.raises(StateError, match=f"cannot read the state key file {tmp_path / 'nope'}: "):
        read_key_file(tmp_path / "nope")
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(StateError, match=f"key file {f} is not a valid state key"):
        read_key_file(f)


def test_a_bad_key_in_the_environment_is_refused_before_opening(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(StateError, match=f"{KEY_ENV} is not a valid state key"):
        StateStore.open(None, data_dir=tmp_path / "d")
    assert not (tmp_path / "d").exists()


# --- sealing ---------------------------------------------------------------------------------

def test_seal_only_touches_sensitive_paths_with_aes_gcm_envelopes():
    key = new_key()
    sealer = Sealer(key)
    sealed = sealer.seal(secret(), "default")
    assert sealed.attributes["metadata"] == {"name": "db"}
    env = sealed.attributes["data"]
    assert set(env) == {ENC, "kid", "n", "c"} and env[ENC] == SCHEME and env["kid"] == key.kid
    assert len(base64.b64decode(env["n"])) == 12                        # 96-bit nonce
    plain = '{"password":"%s"}' % PASSWORD  # noqa: UP031 - JSON's braces read better with %
    assert len(base64.b64decode(env["c"])) == len(plain) + 16   # + GCM tag
    assert sealed.attributes["users"][0]["name"] == "svc"
    assert set(sealed.attributes["users"][0]["password"]) == {ENC, "kid", "n", "c"}
    assert set(sealed.observed["data"]) == {ENC, "kid", "n", "c"}
    assert sealer.seal(sealed, "default") == sealed          # sealing twice changes nothing
    assert sealer.open(sealed, "default") == secret()
    again = sealer.seal(secret(), "default")
    assert again.attributes["data"]["n"] != env["n"]          # a fresh nonce for every value
    assert again.attributes["data"]["c"] != env["c"]


def test_without_a_key_nothing_is_sealed():
    assert Sealer(None).seal(secret(), "default") == secret()


def test_envelopes_are_bound_to_workspace_address_and_path():
    sealer = Sealer(new_key())
    sealed = sealer.seal(secret(), "default")
    with pytest.raises(StateError, match="does not authenticate"):
        sealer.open(sealed, "prod")
    moved = ResourceState.from_dict({**sealed.to_dict(), "address": ADDRESS + "2"})
    with pytest.raises(StateError, match=f"cannot decrypt attributes.data of {ADDRESS}2 .*does not "
                                         "authenticate \\(altered, or copied from another resource"):
        sealer.open(moved, "default")
    swapped = ResourceState.from_dict({**sealed.to_dict(),
                                       "observed": {"data": sealed.attributes["users"][0]["password"]}})
    with pytest.raises(StateError, match="cannot decrypt observed.data of"):
        sealer.open(swapped, "default")


# --- the store -------------------------------------------------------------------------------

def test_sensitive_values_are_encrypted_in_rows_history_and_pulls(url, tmp_path):
    key = new_key()
    with opened(url, tmp_path, key) as s:
        s.put_resource("default", secret())
        s.checkpoint("default", "apply")
        assert s.snapshot("default").resources[ADDRESS] == secret()
        pulled = s.pull("default")
        assert PASSWORD not in json.dumps(pulled)
        assert pulled["resources"][0]["attributes"]["metadata"] == {"name": "db"}
        assert pulled["resources"][0]["attributes"]["data"]["kid"] == key.kid
    stored = stored_text(url)
    assert PASSWORD not in stored and base64.b64encode(PASSWORD.encode()).decode() not in stored
    assert '"$enc":"aesgcm/v1"' in stored


def test_missing_key_is_one_clear_error_and_listing_still_works(url, tmp_path):
    key = new_key()
    with opened(url, tmp_path, key) as s:
        s.put_resource("default", secret())
    with opened(url, tmp_path, None) as s:
        with pytest.raises(KeyMissing) as err:
            s.snapshot("default")
        assert str(err.value).startswith(
            f"state is encrypted (key id {key.kid}) but ECPCTL_STATE_KEY is not set")
        assert "\n" not in str(err.value)
        listed = s.snapshot("default", decrypt=False).resources[ADDRESS]
        assert listed.attributes["data"]["kid"] == key.kid          # left as stored, never garbage
        assert listed.attributes["metadata"] == {"name": "db"}
        with pytest.raises(KeyMissing):
            s.move_resource("default", ADDRESS, ADDRESS + "2")
        assert list(s.snapshot("default", decrypt=False).resources) == [ADDRESS]


def test_a_wrong_key_is_one_clear_error(url, tmp_path):
    key, other = new_key(), new_key()
    with opened(url, tmp_path, key) as s:
        s.put_resource("default", secret())
    with opened(url, tmp_path, other) as s:
        with pytest.raises(WrongKey) as err:
            s.snapshot("default")
    assert str(err.value).startswith(
        f"ECPCTL_STATE_KEY does not decrypt this state (key id {key.kid}; the key given has id "
        f"{other.kid}); set the key it was written with")


def test_a_tampered_ciphertext_is_a_clear_error(url, tmp_path):
    key = new_key()
    with opened(url, tmp_path, key) as s:
        s.put_resource("default", secret())
    data = row(url)
    c = bytearray(base64.b64decode(data["attributes"]["data"]["c"]))
    c[0] ^= 1
    data["attributes"]["data"]["c"] = base64.b64encode(bytes(c)).decode()
    write_row(url, data)
    with opened(url, tmp_path, key) as s:
        with pytest.raises(StateError, match=f"cannot decrypt attributes.data of {ADDRESS} in state: "
                                             "the encrypted value does not authenticate"):
            s.snapshot("default")
    data["attributes"]["data"]["n"] = "!!"
    write_row(url, data)
    with opened(url, tmp_path, key) as s:
        with pytest.raises(StateError, match="does not authenticate"):
            s.snapshot("default")


def test_a_value_copied_to_another_resource_does_not_decrypt(url, tmp_path):
    key = new_key()
    other = "tenant.acme.kubernetes.v1.Secret.other"
    with opened(url, tmp_path, key) as s:
        s.put_resource("default", secret())
        s.put_resource("default", secret(other))
    stolen = row(url)["attributes"]["data"]
    data = row(url, other)
    data["attributes"]["data"] = stolen
    write_row(url, data, other)
    with opened(url, tmp_path, key) as s:
        with pytest.raises(StateError, match=f"cannot decrypt attributes.data of {other} .*copied "
                                             "from another resource or workspace"):
            s.snapshot("default")


def test_state_mv_encrypts_again_under_the_new_address(url, tmp_path):
    key = new_key()
    with opened(url, tmp_path, key) as s:
        s.put_resource("default", secret())
        s.move_resource("default", ADDRESS, ADDRESS + "2")
        got = s.snapshot("default").resources[ADDRESS + "2"]
    assert got.attributes == secret().attributes and got.observed == secret().observed
    assert PASSWORD not in stored_text(url)


def test_push_encrypts_clear_values_and_rebinds_pulled_ones(url, tmp_path):
    key = new_key()
    doc = {"format_version": 1, "lineage": "l-1", "serial": 3, "workspace": "x",
           "resources": [secret().to_dict()], "tenants": []}
    with opened(url, tmp_path, key) as s:
        s.push("default", doc, force=True)
        assert s.snapshot("default").resources[ADDRESS] == secret()
        pulled = s.pull("default")
        s.create_workspace("copy")
        s.push("copy", pulled)               # bound to "default": opened and encrypted for "copy"
        assert s.snapshot("copy").resources[ADDRESS] == secret()
    assert PASSWORD not in stored_text(url)
    with opened(url, tmp_path, None) as s:
        with pytest.raises(KeyMissing, match="encrypted for workspace default; pushing it to "
                                             "workspace other encrypts them again"):
            s.create_workspace("other")
            s.push("other", pulled)
        s.push("default", pulled, force=True)    # same workspace: taken as it is, no key needed
    with opened(url, tmp_path, key) as s:
        assert s.snapshot("default").resources[ADDRESS] == secret()
    with opened(url, tmp_path, new_key()) as s:
        with pytest.raises(WrongKey, match="does not decrypt the pushed document"):
            s.push("default", pulled, force=True)


def test_without_a_key_values_are_stored_as_they_are(url, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    with StateStore.open(url, data_dir=tmp_path) as s:
        s.put_resource("default", secret())
        assert s.snapshot("default").resources[ADDRESS] == secret()
    assert PASSWORD in stored_text(url)


def test_the_key_comes_from_the_environment_by_default(url, tmp_path, monkeypatch):
    k = generate_key()
    monkeypatch.setenv(KEY_ENV, k)
    with StateStore.open(url, data_dir=tmp_path) as s:
        assert s.key.kid == parse_key(k, KEY_ENV).kid
        s.put_resource("default", secret())
    assert PASSWORD not in stored_text(url)


# --- rekey -----------------------------------------------------------------------------------

def kept_versions(url: str) -> list[dict]:
    return [json.loads(d) for (d,) in sql(url, "SELECT document FROM versions ORDER BY serial")]


def kids(value) -> set[str]:
    from state.crypto import key_ids
    return key_ids(value)


def test_rekey_moves_resources_and_history_to_the_new_key(url, tmp_path):
    old, new = new_key(), new_key()
    with opened(url, tmp_path, old) as s:
        s.put_resource("default", secret())
        s.checkpoint("default", "apply")
        s.put_resource("default", secret(ADDRESS + "2"))
        s.checkpoint("default", "apply")
        serial = s.snapshot("default").serial
        lock = s.lock("default", "state rekey")
        report = s.rekey("default", new, lock=lock)
        s.unlock(lock)
    assert (report.old_kid, report.new_kid) == (old.kid, new.kid)
    assert (report.resources, report.values) == (2, 6)
    assert (report.versions, report.version_values) == (2, 9)
    assert not report.skipped
    assert kids([row(url), row(url, ADDRESS + "2")]) == {new.kid}
    assert kids(kept_versions(url)) == {new.kid}
    with opened(url, tmp_path, old) as s:
        with pytest.raises(WrongKey):
            s.snapshot("default")
    with opened(url, tmp_path, new) as s:
        snap = s.snapshot("default")
        assert snap.resources[ADDRESS] == secret() and snap.serial == serial   # same state
        assert s.history("default")[0].version == serial
        first = s.pull("default", s.history("default")[-1].version)   # versions verify and open
        s.push("default", first, force=True)
        assert list(s.snapshot("default").resources) == [ADDRESS]


def test_rekey_encrypts_a_clear_state_and_decrypts_an_encrypted_one(url, tmp_path):
    key = new_key()
    with opened(url, tmp_path, None) as s:
        s.put_resource("default", secret())
        s.checkpoint("default", "apply")
        lock = s.lock("default", "state rekey")
        report = s.rekey("default", key, lock=lock)
        s.unlock(lock)
    assert report.old_kid is None and (report.values, report.version_values) == (3, 3)
    assert PASSWORD not in stored_text(url)
    with opened(url, tmp_path, key) as s:
        lock = s.lock("default", "state rekey")
        report = s.rekey("default", None, lock=lock)
        s.unlock(lock)
    assert report.new_kid is None and (report.values, report.version_values) == (3, 3)
    assert '"$enc"' not in stored_text(url)
    with opened(url, tmp_path, None) as s:
        assert s.snapshot("default").resources[ADDRESS] == secret()


def test_rekey_without_the_old_key_writes_nothing(url, tmp_path):
    key = new_key()
    with opened(url, tmp_path, key) as s:
        s.put_resource("default", secret())
        s.checkpoint("default", "apply")
    before = stored_text(url)
    with opened(url, tmp_path, None) as s:
        lock = s.lock("default", "state rekey")
        with pytest.raises(KeyMissing):
            s.rekey("default", new_key(), lock=lock)
        s.unlock(lock)
    with opened(url, tmp_path, new_key()) as s:
        lock = s.lock("default", "state rekey")
        with pytest.raises(WrongKey):
            s.rekey("default", new_key(), lock=lock)
        s.unlock(lock)
    assert stored_text(url) == before


def test_rekey_leaves_corrupt_versions_and_reports_them(url, tmp_path):
    old, new = new_key(), new_key()
    with opened(url, tmp_path, old) as s:
        s.put_resource("default", secret())
        bad = s.checkpoint("default", "apply")
        s.put_resource("default", secret(ADDRESS + "2"))
        s.checkpoint("default", "apply")
    sql(url, "UPDATE versions SET document = substr(document, 1, 40) WHERE serial = :s", s=bad)
    with opened(url, tmp_path, old) as s:
        lock = s.lock("default", "state rekey")
        report = s.rekey("default", new, lock=lock)
        s.unlock(lock)
    assert report.skipped == ((bad, "checksum mismatch"),) and report.versions == 1


def test_rekey_needs_the_workspace_lock(url, tmp_path):
    key = new_key()
    with opened(url, tmp_path, key) as s, opened(url, tmp_path, key) as other:
        s.put_resource("default", secret())
        mine = other.lock("default", "apply")
        stale = mine.__class__(**{**mine.__dict__, "id": "not-the-lock"})
        with pytest.raises(StateError, match="is no longer held"):
            s.rekey("default", new_key(), lock=stale)
        other.unlock(mine)


def test_values_sealed_by_the_earlier_fernet_format_still_open_and_rekey(url, tmp_path):
    from cryptography.fernet import Fernet
    k = Fernet.generate_key().decode()          # a Fernet key is 32 url-safe base64 bytes too
    key = parse_key(k, KEY_ENV)
    token = Fernet(k.encode()).encrypt(json.dumps({"password": PASSWORD}).encode()).decode()
    with opened(url, tmp_path, None) as s:
        s.put_resource("default", secret())
    data = row(url)
    data["attributes"]["data"] = {"$ecpctl_sealed": token}
    write_row(url, data)
    with opened(url, tmp_path, None) as s:
        with pytest.raises(KeyMissing, match="earlier ecpctl's format"):
            s.snapshot("default")
    with opened(url, tmp_path, key) as s:
        assert s.snapshot("default").resources[ADDRESS].attributes["data"] == {"password": PASSWORD}
        lock = s.lock("default", "state rekey")
        s.rekey("default", key, lock=lock)
        s.unlock(lock)
        assert s.snapshot("default").resources[ADDRESS] == secret()
    assert "$ecpctl_sealed" not in stored_text(url) and kids(row(url)) == {key.kid}


def test_key_id_is_the_sha256_prefix():
    assert key_id(b"\0" * 32) == hashlib.sha256(b"\0" * 32).hexdigest()[:8]
