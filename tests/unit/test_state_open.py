"""Opening a state store: where the default file lives and its modes, URLs, and open errors."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import create_engine, text

from ecpctl.kernel import StateError
from state import StateStore
from state.urls import mask
from tests.unit.test_state_store import make_rs


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_default_is_a_private_sqlite_file_in_the_data_dir(tmp_path):
    data_dir = tmp_path / "project" / ".ecpctl"
    with StateStore.open(None, data_dir=data_dir) as s:
        s.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
        assert s.url == f"sqlite:///{data_dir / 'state.db'}"
        assert _mode(data_dir) == 0o700
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert _mode(data_dir / name) == 0o600, name
    with StateStore.open(None, data_dir=data_dir) as again:
        assert list(again.snapshot("default").resources) == ["tenant.acme.fake.thing.a"]


def test_existing_data_dir_is_made_private(tmp_path):
    data_dir = tmp_path / ".ecpctl"
    data_dir.mkdir(mode=0o755)
    StateStore.open(None, data_dir=data_dir).close()
    assert _mode(data_dir) == 0o700


def test_sqlite_url_file_is_created_private(tmp_path):
    path = tmp_path / "elsewhere.db"
    StateStore.open(f"sqlite:///{path}", data_dir=tmp_path / "unused").close()
    assert _mode(path) == 0o600
    assert not (tmp_path / "unused").exists()


def test_sqlite_uses_wal(tmp_path):
    path = tmp_path / "s.db"
    StateStore.open(f"sqlite:///{path}", data_dir=tmp_path).close()
    with create_engine(f"sqlite:///{path}").connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_in_memory_sqlite_works_across_threads(tmp_path):
    import threading
    with StateStore.open("sqlite://", data_dir=tmp_path) as s:
        threads = [threading.Thread(target=s.put_resource, args=("default", make_rs(f"tenant.a.fake.thing.r{i}")))
                   for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.snapshot("default").serial == 10


def test_unopenable_sqlite_file_is_one_clear_line(tmp_path):
    url = f"sqlite:///{tmp_path}/missing-dir/state.db"
    with pytest.raises(StateError) as err:
        StateStore.open(url, data_dir=tmp_path)
    assert str(err.value) == f"cannot open state database {url}: unable to open database file"


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=f"cannot open state database sqlite:///{path}: file is not a database"):
        StateStore.open(None, data_dir=tmp_path)


def test_data_dir_that_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="cannot create state directory"):
        StateStore.open(None, data_dir=tmp_path / "file" / ".ecpctl")


@pytest.mark.parametrize("url, message", [
    ("mysql://u:pw@h/db", "unsupported database 'mysql'"),
    ("not a url", "is not a database URL"),
])
def test_unsupported_urls(tmp_path, url, message):
    with pytest.raises(StateError, match=message) as err:
        StateStore.open(url, data_dir=tmp_path)
    assert "--state-url, ECPCTL_STATE_URL or the Project's spec.state.url" in str(err.value)
    assert ":pw@" not in str(err.value)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.db"
    StateStore.open(f"sqlite:///{path}", data_dir=tmp_path).close()
    with create_engine(f"sqlite:///{path}").begin() as conn:
        conn.execute(text("UPDATE ecpctl_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StateError, match="schema version 99, newer than this ecpctl reads .*upgrade ecpctl"):
        StateStore.open(f"sqlite:///{path}", data_dir=tmp_path)


@pytest.mark.parametrize("url, masked", [
    ("postgresql://ecp:s3cr%40t@db.example.com:5432/state", "postgresql://ecp:***@db.example.com:5432/state"),
    ("postgresql://ecp@db/state?password=s3cret&sslmode=require", "postgresql://ecp@db/state?password=***&sslmode=require"),
    ("postgresql://ecp:pa:ss@db/state", "postgresql://ecp:***@db/state"),
    ("sqlite:////tmp/state.db", "sqlite:////tmp/state.db"),
])
def test_mask(url, masked):
    assert mask(url) == masked


def test_unreachable_postgres_names_the_setting_and_hides_the_password(tmp_path):
    url = "postgresql://ecp:hunter2-secret@127.0.0.1:1/state"
    with pytest.raises(StateError) as err:
        StateStore.open(url, data_dir=tmp_path)
    msg = str(err.value)
    assert msg.startswith("cannot open state database postgresql://ecp:***@127.0.0.1:1/state: ")
    assert "check the host and port in the state URL (set by --state-url" in msg
    assert "hunter2" not in msg and "\n" not in msg
