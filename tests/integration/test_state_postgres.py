"""The state store against a real Postgres 15: the same test functions as on SQLite, and more.

The tests of tests/unit/test_state_{store,history,lock}.py are imported here and `state_url` is
parametrized over sqlite and postgres, so both backends answer the same questions. The tests
below them need Postgres itself: advisory locks, server restarts, login failures.
"""

from __future__ import annotations

import time

import pytest
from psycopg import sql

from ecpctl.kernel import LockError, StateError
from state import StateStore
from state.lock import advisory_key
from tests.unit.test_state_history import *  # noqa: F401,F403
from tests.unit.test_state_lock import *  # noqa: F401,F403
from tests.unit.test_state_lock import _hold
from tests.unit.test_state_store import *  # noqa: F401,F403
from tests.unit.test_state_store import make_rs

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request, tmp_path):   # noqa: F811 - overrides the SQLite-only fixture of the unit tests
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("postgres_state_url")


@pytest.fixture
def pg_store(postgres_state_url, tmp_path):
    with StateStore.open(postgres_state_url, data_dir=tmp_path) as s:
        yield s


def _advisory_locks(postgres_server, dbname: str) -> list[int]:
    with postgres_server.connect(dbname) as conn:
        rows = conn.execute("SELECT classid::bigint, objid::bigint FROM pg_locks "
                            "WHERE locktype = 'advisory' AND granted").fetchall()
    # a bigint key is split into (classid, objid): high and low 32 bits
    return [((hi << 32) | lo) - (1 << 64) if hi >= (1 << 31) else (hi << 32) | lo for hi, lo in rows]


@pytest.mark.postgres
def test_lock_holds_a_per_workspace_advisory_lock(pg_store, postgres_server, postgres_state_url):
    dbname = postgres_state_url.rsplit("/", 1)[1]
    pg_store.create_workspace("prod")
    assert advisory_key("default") != advisory_key("prod")
    lock = pg_store.lock("default", "apply")
    assert _advisory_locks(postgres_server, dbname) == [advisory_key("default")]
    prod = pg_store.lock("prod", "apply")
    assert sorted(_advisory_locks(postgres_server, dbname)) == sorted([advisory_key("default"),
                                                                       advisory_key("prod")])
    pg_store.unlock(lock)
    pg_store.unlock(prod)
    assert _advisory_locks(postgres_server, dbname) == []


@pytest.mark.postgres
def test_killed_holder_frees_its_advisory_lock_and_is_reported_dead(pg_store, postgres_server, holders,
                                                                     postgres_state_url, tmp_path):
    dbname = postgres_state_url.rsplit("/", 1)[1]
    h = _hold(holders, postgres_state_url, tmp_path)
    assert _advisory_locks(postgres_server, dbname) == [advisory_key("default")]
    h.kill()
    deadline = time.monotonic() + 20
    while _advisory_locks(postgres_server, dbname):
        assert time.monotonic() < deadline, "the advisory lock outlived its killed holder"
        time.sleep(0.05)
    with pytest.raises(LockError, match=f"the holder appears dead.*`ecpctl force-unlock {h.lock_id}`"):
        pg_store.lock("default", "apply")
    assert pg_store.current_lock("default").id == h.lock_id


@pytest.mark.postgres
def test_store_survives_a_server_restart(pg_store, postgres_server):
    pg_store.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
    postgres_server.restart()
    pg_store.put_resource("default", make_rs("tenant.acme.fake.thing.b"))
    assert pg_store.snapshot("default").serial == 2


@pytest.mark.postgres
def test_holder_whose_session_was_cut_is_reported_dead(pg_store, postgres_server, tmp_path,
                                                         postgres_state_url):
    lock = pg_store.lock("default", "apply")
    postgres_server.restart()          # the holder's advisory session is gone, its row is not
    with StateStore.open(postgres_state_url, data_dir=tmp_path) as other:
        with pytest.raises(LockError) as err:
            other.lock("default", "apply")
        assert "the holder appears dead" in str(err.value)
        assert f"`ecpctl force-unlock {lock.id}`" in str(err.value)


@pytest.mark.postgres
def test_login_failures_name_the_setting_and_hide_the_password(postgres_server, postgres_state_url, tmp_path):
    dbname = postgres_state_url.rsplit("/", 1)[1]
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(f"u_{dbname}"), sql.Literal("Sup3r-secret")))
    user = f"u_{dbname}"
    cases = [
        (postgres_server.dsn(dbname, user, "wrong-Sup3r"), "password authentication failed",
         "check the user name and password in the state URL"),
        (postgres_server.dsn("no_such_db", user, "Sup3r-secret"), 'database "no_such_db" does not exist',
         "check the database name"),
        (postgres_server.dsn(dbname, user, "Sup3r-secret"), "permission denied for schema public",
         "grant it CREATE on the schema"),
    ]
    for url, reason, hint in cases:
        with pytest.raises(StateError) as err:
            StateStore.open(url, data_dir=tmp_path)
        msg = str(err.value)
        assert reason in msg and hint in msg
        assert "Sup3r" not in msg and f"{user}:***@" in msg


@pytest.mark.postgres
def test_a_role_with_rights_on_its_schema_can_keep_state(postgres_server, postgres_state_url, tmp_path):
    dbname = postgres_state_url.rsplit("/", 1)[1]
    user = f"o_{dbname}"
    with postgres_server.connect(dbname) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw-of-owner'").format(sql.Identifier(user)))
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(user)))
    with StateStore.open(postgres_server.dsn(dbname, user, "pw-of-owner"), data_dir=tmp_path) as s:
        assert s.url.endswith(f"{user}:***@127.0.0.1:{postgres_server.port}/{dbname}")
        s.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
        lock = s.lock("default", "apply")
        s.unlock(lock)
        assert s.snapshot("default").serial == 1
