"""Read-only state on a real Postgres 15 (`StateStore.open(readonly=True)`, `CliContext.reader()`):
no DDL and no row written, an empty database reads as an empty state, and the read-only commands
answer through the CLI without creating anything."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ecpctl.kernel import StateError
from state import StateStore
from tests.unit.test_state_store import make_rs

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def tables(postgres_server, dbname: str) -> list[str]:
    with postgres_server.connect(dbname) as conn:
        return [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()]


def run(url: str, tmp_path, *args: str):
    from ecpctl.cli.main import cli
    return CliRunner().invoke(cli, ["--data-dir", str(tmp_path / ".ecpctl"), *args],
                              env={"ECPCTL_STATE_URL": url, "ECPCTL_WORKSPACE": None,
                                   "NO_COLOR": "1"}, catch_exceptions=False)


def test_an_empty_database_reads_as_an_empty_state_and_gets_no_tables(postgres_server,
                                                                      postgres_state_url, tmp_path):
    dbname = postgres_state_url.rsplit("/", 1)[1]
    with StateStore.open(postgres_state_url, data_dir=tmp_path, readonly=True) as store:
        assert store.snapshot("default").serial == 0
        assert store.workspaces() == ["default"]
        assert store.url.endswith(f"/{dbname}")
    for args in (["state", "list", "--json"], ["tenants", "--json"], ["workspace", "list", "--json"],
                 ["state", "history", "--json"]):
        r = run(postgres_state_url, tmp_path, *args)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["ok"] is True
    assert tables(postgres_server, dbname) == []
    assert not (tmp_path / ".ecpctl").exists()


def test_an_existing_state_is_read_in_read_only_sessions(postgres_server, postgres_state_url,
                                                         tmp_path):
    dbname = postgres_state_url.rsplit("/", 1)[1]
    with StateStore.open(postgres_state_url, data_dir=tmp_path) as writer:
        writer.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
        writer.checkpoint("default", "apply")
    with postgres_server.connect(dbname) as conn:
        before = conn.execute("SELECT name, lineage, serial, updated_at FROM workspaces").fetchall()
    with StateStore.open(postgres_state_url, data_dir=tmp_path, readonly=True) as store:
        assert list(store.snapshot("default").resources) == ["tenant.acme.fake.thing.a"]
        # the guard in ecpctl refuses first; the server would refuse too (read-only sessions)
        with pytest.raises(StateError, match="opened read-only"):
            store.create_workspace("prod")
        with store._db.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "on"
    r = run(postgres_state_url, tmp_path, "state", "list", "--json")
    assert [x["address"] for x in json.loads(r.stdout)["resources"]] == ["tenant.acme.fake.thing.a"]
    with postgres_server.connect(dbname) as conn:
        assert conn.execute("SELECT name, lineage, serial, updated_at FROM workspaces").fetchall() \
            == before
