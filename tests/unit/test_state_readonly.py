"""Opening state read-only (`StateStore.open(readonly=True)`, `CliContext.reader()`): nothing is
ever created, a missing state reads as empty, and an existing one reads as it is."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ecpctl.kernel import Address

from ecpctl.cli.context import CliContext
from ecpctl.kernel import ResourceState, StateError
from state.store import StateStore


def tree(root: Path) -> dict[str, str]:
    """Every file under root with the sha256 of its bytes."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def resource(address: str = "tenant.acme.fake.thing.a") -> ResourceState:
    return ResourceState(addr=Address.parse(address), attributes={"size": 1}, observed={})


def test_a_missing_state_reads_as_empty_and_nothing_is_created(tmp_path):
    data_dir = tmp_path / ".ecpctl"
    with StateStore.open(None, data_dir=data_dir, readonly=True) as store:
        snap = store.snapshot("default")
        assert (snap.lineage, snap.serial, dict(snap.resources)) == ("", 0, {})
        assert store.workspaces() == ["default"]
        assert store.history("default") == []
        with pytest.raises(StateError, match="workspace prod does not exist"):
            store.snapshot("prod")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_state_is_read_without_touching_a_byte(tmp_path):
    data_dir = tmp_path / ".ecpctl"
    with StateStore.open(None, data_dir=data_dir) as writer:
        writer.put_resource("default", resource())
        writer.checkpoint("default", "apply")
    before = tree(tmp_path)
    assert list(before) == [".ecpctl/state.db"]   # the writer closed: WAL checkpointed and removed
    with StateStore.open(None, data_dir=data_dir, readonly=True) as store:
        assert list(store.snapshot("default").resources) == ["tenant.acme.fake.thing.a"]
        assert [v.operation for v in store.history("default")] == ["apply"]
    assert tree(tmp_path) == before


def test_a_reader_sees_what_a_connected_writer_committed_to_its_wal(tmp_path):
    data_dir = tmp_path / ".ecpctl"
    with StateStore.open(None, data_dir=data_dir) as writer:
        writer.put_resource("default", resource())
        assert (data_dir / "state.db-wal").exists()   # the writer is still connected
        with StateStore.open(None, data_dir=data_dir, readonly=True) as store:
            assert list(store.snapshot("default").resources) == ["tenant.acme.fake.thing.a"]


def test_every_write_through_a_reader_is_refused(tmp_path):
    data_dir = tmp_path / ".ecpctl"
    with StateStore.open(None, data_dir=data_dir) as writer:
        writer.put_resource("default", resource())
    before = tree(tmp_path)
    with StateStore.open(None, data_dir=data_dir, readonly=True) as store:
        for write in (lambda: store.put_resource("default", resource("tenant.acme.fake.thing.b")),
                      lambda: store.create_workspace("prod"),
                      lambda: store.lock("default", "apply"),
                      lambda: store.checkpoint("default", "x")):
            with pytest.raises(StateError, match="opened read-only"):
                write()
    assert tree(tmp_path) == before


def test_cli_context_reader_creates_nothing_and_store_upgrades_it(tmp_path):
    ctx = CliContext(data_dir=tmp_path / ".ecpctl")
    assert ctx.reader().snapshot(ctx.workspace).serial == 0
    assert ctx.reader() is ctx.reader()
    assert list(tmp_path.iterdir()) == []
    ctx.store().put_resource(ctx.workspace, resource())   # a write opens the real database
    assert ctx.reader() is ctx.store()                      # and later reads use it
    ctx.close()
    assert (tmp_path / ".ecpctl" / "state.db").is_file()


def test_a_newer_schema_is_refused_read_only_too(tmp_path):
    import sqlite3
    data_dir = tmp_path / ".ecpctl"
    StateStore.open(None, data_dir=data_dir).close()
    with sqlite3.connect(data_dir / "state.db") as conn:
        conn.execute("UPDATE ecpctl_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateError, match="schema version 99, newer than this ecpctl reads"):
        StateStore.open(None, data_dir=data_dir, readonly=True)
