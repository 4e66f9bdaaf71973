"""Encryption at rest of sensitive values (ECPCTL_STATE_KEY)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from ecpctl.diagnostics import StateError
from providers.protocol import ResourceState
from state import StateStore
from state.crypto import KEY_ENV, Sealer

PASSWORD = "gen-Pa55word-7f3k"


def secret() -> ResourceState:
    return ResourceState(
        address="tenant.acme.kubernetes.v1.Secret.db", provider="kubernetes", type="v1.Secret",
        name="db", tenant="acme",
        attributes={"metadata": {"name": "db"}, "data": {"password": PASSWORD},
                    "users": [{"name": "svc", "password": PASSWORD}]},
        observed={"data": {"password": PASSWORD}},
        sensitive=("data", "users[0].password"))


def _rows_text(url: str) -> str:
    with create_engine(url).connect() as conn:
        res = conn.execute(text("SELECT data FROM resources")).scalars().all()
        ver = conn.execute(text("SELECT document FROM versions")).scalars().all()
    return "\n".join(res + ver)


@pytest.fixture
def key(monkeypatch) -> str:
    k = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, k)
    return k


def test_sensitive_values_are_encrypted_at_rest_and_clear_in_snapshots(tmp_path, key):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with StateStore.open(url, data_dir=tmp_path) as s:
        s.put_resource("default", secret())
        s.checkpoint("default", "apply")
        got = s.snapshot("default").resources[secret().address]
        assert got == secret()
        pulled = s.pull("default")
        assert PASSWORD not in str(pulled)
        assert pulled["resources"][0]["attributes"]["metadata"] == {"name": "db"}
        s.move_resource("default", secret().address, "tenant.acme.kubernetes.v1.Secret.db2")
        assert s.snapshot("default").resources["tenant.acme.kubernetes.v1.Secret.db2"].attributes == \
            secret().attributes
    stored = _rows_text(url)
    assert PASSWORD not in stored and "$ecpctl_sealed" in stored


def test_without_the_key_encrypted_state_is_refused_clearly(tmp_path, key, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with StateStore.open(url, data_dir=tmp_path) as s:
        s.put_resource("default", secret())
    monkeypatch.delenv(KEY_ENV)
    with StateStore.open(url, data_dir=tmp_path) as s:
        with pytest.raises(StateError, match=f"holds values encrypted at rest; set {KEY_ENV}"):
            s.snapshot("default")
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    with StateStore.open(url, data_dir=tmp_path) as s:
        with pytest.raises(StateError, match=f"cannot decrypt the sensitive values of {secret().address}"):
            s.snapshot("default")


def test_key_rotation_reads_old_values(tmp_path, key, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with StateStore.open(url, data_dir=tmp_path) as s:
        s.put_resource("default", secret())
    monkeypatch.setenv(KEY_ENV, f"{Fernet.generate_key().decode()},{key}")
    with StateStore.open(url, data_dir=tmp_path) as s:
        assert s.snapshot("default").resources[secret().address] == secret()


def test_push_encrypts_clear_values_of_a_document(tmp_path, key):
    url = f"sqlite:///{tmp_path / 's.db'}"
    doc = {"format_version": 1, "lineage": "l-1", "serial": 3, "workspace": "x",
           "resources": [secret().to_dict()], "tenants": []}
    with StateStore.open(url, data_dir=tmp_path) as s:
        s.push("default", doc, force=True)
        assert s.snapshot("default").resources[secret().address] == secret()
    assert PASSWORD not in _rows_text(url)


def test_without_a_key_values_are_stored_as_they_are(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 's.db'}"
    with StateStore.open(url, data_dir=tmp_path) as s:
        s.put_resource("default", secret())
        assert s.snapshot("default").resources[secret().address] == secret()
    assert PASSWORD in _rows_text(url)


def test_a_bad_key_is_refused_before_opening(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(StateError, match=f"{KEY_ENV} is not a valid key.*Fernet.generate_key"):
        StateStore.open(None, data_dir=tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_seal_only_touches_sensitive_paths():
    sealer = Sealer([Fernet.generate_key().decode()])
    sealed = sealer.seal(secret())
    assert sealed.attributes["metadata"] == {"name": "db"}
    assert set(sealed.attributes["data"]) == {"$ecpctl_sealed"}
    assert sealed.attributes["users"][0]["name"] == "svc"
    assert set(sealed.attributes["users"][0]["password"]) == {"$ecpctl_sealed"}
    assert sealer.seal(sealed) == sealed             # sealing twice changes nothing
    assert sealer.open(sealed) == secret()
