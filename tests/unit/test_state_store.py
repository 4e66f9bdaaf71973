"""StateStore: workspaces, serial and lineage, resource writes, snapshots, tenants registry.

The fixtures here open stores on `state_url`; tests/integration/test_state_postgres.py imports these
tests and overrides `state_url`, so the same functions run against SQLite and the real Postgres.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from ecpctl.kernel import Address
from sqlalchemy import create_engine, event

from ecpctl.kernel import StateError
from ecpctl.kernel import ResourceState
from state import StateSnapshot, StateStore, TenantRecord


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def open_store(state_url: str, tmp_path: Path):
    """Opens more stores on the same database (as other ecpctl processes would); closes them all."""
    opened: list[StateStore] = []

    def _open() -> StateStore:
        s = StateStore.open(state_url, data_dir=tmp_path / "data")
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store) -> StateStore:
    return open_store()


def raw_engine(url: str):
    """The database behind a store, for editing rows the way a person with psql would."""
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def make_rs(address: str, tenant: str = "acme", **attrs) -> ResourceState:
    return ResourceState(addr=Address.parse(address), attributes={"replicas": 2, **attrs}, observed={"spec": {"replicas": 2}},
                         sensitive=("data.password",), depends_on=("tenant.acme.fake.thing.ns",),
                         private={"uid": "u-1"})


def make_tenant(tenant_id: str = "acme", **kw) -> TenantRecord:
    base = dict(tenant_id=tenant_id, name="AI 콜센터 운영", preset="medium", is_demo=False,
                status="running", service_requirements={"callbot": 50, "chatbot": 100},
                resources={"replicas": {"callbot": 2}}, sla_target={"availability": "99.95%"},
                cpu_limit="12000m", memory_limit="24Gi", gpu_limit=2, gpu_type="t4")
    base.update(kw)
    return TenantRecord(**base)


# --- workspaces ------------------------------------------------------------------------------

def test_default_workspace_exists_before_any_write(store):
    assert store.workspaces() == ["default"]
    snap = store.snapshot("default")
    assert isinstance(snap, StateSnapshot)
    assert (snap.lineage, snap.serial, dict(snap.resources), dict(snap.tenants)) == ("", 0, {}, {})


def test_create_list_and_delete_workspaces(store):
    store.create_workspace("prod")
    store.create_workspace("demo")
    assert store.workspaces() == ["default", "demo", "prod"]
    snap = store.snapshot("prod")
    assert snap.serial == 0 and len(snap.lineage) == 36
    store.delete_workspace("demo")
    assert store.workspaces() == ["default", "prod"]


@pytest.mark.parametrize("name", ["default", "prod"])
def test_create_existing_workspace_is_refused(store, name):
    store.create_workspace("prod")
    with pytest.raises(StateError, match=f"workspace {name} already exists"):
        store.create_workspace(name)


@pytest.mark.parametrize("name", ["", "-x", "a b", "x/y", "a" * 65, "'; drop table"])
def test_bad_workspace_names_are_refused(store, name):
    with pytest.raises(StateError, match="invalid workspace name"):
        store.create_workspace(name)
    with pytest.raises(StateError, match="invalid workspace name"):
        store.snapshot(name)


def test_unknown_workspace_is_named_with_the_fix(store):
    with pytest.raises(StateError, match=r"workspace nope does not exist; create it with `ecpctl workspace new nope`"):
        store.snapshot("nope")
    with pytest.raises(StateError, match="does not exist"):
        store.put_resource("nope", make_rs("tenant.acme.fake.thing.a"))
    with pytest.raises(StateError, match="does not exist"):
        store.lock("nope", "apply")
    assert store.workspaces() == ["default"]


def test_default_workspace_cannot_be_deleted(store):
    with pytest.raises(StateError, match="default workspace cannot be deleted"):
        store.delete_workspace("default")


def test_delete_non_empty_workspace_needs_force(store):
    store.create_workspace("prod")
    store.put_resource("prod", make_rs("tenant.acme.fake.thing.a"))
    store.upsert_tenant("prod", make_tenant())
    with pytest.raises(StateError, match="still records 1 resources and 1 tenants.*--force"):
        store.delete_workspace("prod")
    assert "prod" in store.workspaces()
    store.checkpoint("prod", "apply")
    store.delete_workspace("prod", force=True)
    assert store.workspaces() == ["default"]
    store.create_workspace("prod")   # nothing of the old one survives
    assert store.snapshot("prod").resources == {} and store.history("prod") == []


def test_workspaces_are_separate(store):
    store.create_workspace("demo")
    store.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
    store.put_resource("demo", make_rs("tenant.test.fake.thing.b", tenant="test"))
    assert list(store.snapshot("default").resources) == ["tenant.acme.fake.thing.a"]
    assert list(store.snapshot("demo").resources) == ["tenant.test.fake.thing.b"]
    assert store.snapshot("default").lineage != store.snapshot("demo").lineage


# --- serial, lineage, resource writes --------------------------------------------------------

def test_lineage_is_made_on_first_write_and_serial_counts_every_write(store):
    rs = make_rs("tenant.acme.fake.thing.callbot")
    store.put_resource("default", rs)
    first = store.snapshot("default")
    assert len(first.lineage) == 36 and first.serial == 1
    store.put_resource("default", replace(rs, attributes={"replicas": 3}))
    store.put_resource("default", make_rs("tenant.acme.fake.thing.chatbot"))
    store.move_resource("default", "tenant.acme.fake.thing.chatbot", "tenant.acme.fake.thing.chatbot2")
    store.remove_resource("default", "tenant.acme.fake.thing.chatbot2")
    store.upsert_tenant("default", make_tenant())
    store.remove_tenant("default", "acme")
    last = store.snapshot("default")
    assert last.lineage == first.lineage
    assert last.serial == 7
    assert last.resources["tenant.acme.fake.thing.callbot"].attributes == {"replicas": 3}


def test_snapshot_round_trips_resource_state(store):
    rs = make_rs("tenant.acme.kubernetes.apps/v1.Deployment.callbot", image="ecp/callbot:1.2")
    store.put_resource("default", rs)
    got = store.snapshot("default").resources[rs.address]
    assert got == ResourceState.from_dict(rs.to_dict())
    assert got.sensitive == ("data.password",) and got.depends_on == ("tenant.acme.fake.thing.ns",)


def test_snapshot_is_read_only(store):
    store.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
    snap = store.snapshot("default")
    with pytest.raises(TypeError):
        snap.resources["x"] = None   # type: ignore[index]


def test_remove_missing_resource_is_refused_without_bumping_serial(store):
    store.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
    with pytest.raises(StateError, match="no resource tenant.acme.fake.thing.zzz in the state of workspace default"):
        store.remove_resource("default", "tenant.acme.fake.thing.zzz")
    assert store.snapshot("default").serial == 1


def test_move_resource(store):
    store.put_resource("default", make_rs("tenant.acme.fake.thing.old"))
    store.put_resource("default", make_rs("tenant.acme.fake.thing.other"))
    with pytest.raises(StateError, match="no resource tenant.acme.fake.thing.missing"):
        store.move_resource("default", "tenant.acme.fake.thing.missing", "tenant.acme.fake.thing.x")
    with pytest.raises(StateError, match="tenant.acme.fake.thing.other is already in the state"):
        store.move_resource("default", "tenant.acme.fake.thing.old", "tenant.acme.fake.thing.other")
    assert store.snapshot("default").serial == 2
    store.move_resource("default", "tenant.acme.fake.thing.old", "tenant.acme.fake.thing.new")
    snap = store.snapshot("default")
    assert sorted(snap.resources) == ["tenant.acme.fake.thing.new", "tenant.acme.fake.thing.other"]
    moved = snap.resources["tenant.acme.fake.thing.new"]
    assert moved.address == "tenant.acme.fake.thing.new" and moved.attributes == {"replicas": 2}
    assert snap.serial == 3


def test_data_that_is_not_json_is_refused(store):
    with pytest.raises(StateError, match="not plain JSON"):
        store.put_resource("default", make_rs("tenant.acme.fake.thing.a", when=object()))
    assert store.snapshot("default").serial == 0


def test_writers_in_many_threads_of_one_process(store):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                store.put_resource("default", make_rs(f"tenant.t{n}.fake.thing.r{i}", tenant=f"t{n}"))
        except BaseException as exc:   # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    snap = store.snapshot("default")
    assert len(snap.resources) == 120 and snap.serial == 120


def test_two_stores_on_one_database_see_each_others_writes(open_store):
    a, b = open_store(), open_store()
    a.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
    b.put_resource("default", make_rs("tenant.acme.fake.thing.b"))
    assert sorted(a.snapshot("default").resources) == ["tenant.acme.fake.thing.a", "tenant.acme.fake.thing.b"]
    assert a.snapshot("default").lineage == b.snapshot("default").lineage


class _Statements:
    """Counts the SQL statements a store sends."""

    def __init__(self, store: StateStore):
        self.seen: list[str] = []
        self._engine = store._db.engine
        event.listen(self._engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, params, context, executemany):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            self.seen.append(verb)

    def __enter__(self):
        self.seen.clear()
        return self

    def __exit__(self, *exc):
        event.remove(self._engine, "before_cursor_execute", self._on)


def test_snapshot_costs_one_query_per_table_whatever_the_size(store):
    for i in range(3):
        store.put_resource("default", make_rs(f"tenant.acme.fake.thing.r{i}"))
    with _Statements(store) as small:
        store.snapshot("default")
    for i in range(3, 400):
        store.put_resource("default", make_rs(f"tenant.acme.fake.thing.r{i}"))
    with _Statements(store) as large:
        assert len(store.snapshot("default").resources) == 400
    assert small.seen == large.seen == ["SELECT", "SELECT", "SELECT"]   # workspace, resources, tenants


def test_put_resource_is_one_small_transaction(store):
    store.put_resource("default", make_rs("tenant.acme.fake.thing.a"))
    with _Statements(store) as stmts:
        store.put_resource("default", make_rs("tenant.acme.fake.thing.b"))
    assert stmts.seen == ["SELECT", "UPDATE", "INSERT"]   # lock check, serial bump, upsert


# --- tenants registry ------------------------------------------------------------------------

def test_tenant_registry_sets_timestamps_and_keeps_created_at(store):
    store.upsert_tenant("default", make_tenant(status="applying"))
    first = store.snapshot("default").tenants["acme"]
    assert first.status == "applying" and first.name == "AI 콜센터 운영"
    assert first.created_at is not None and first.created_at.tzinfo is not None
    assert first.updated_at == first.created_at
    store.upsert_tenant("default", make_tenant(status="running", gpu_limit=4))
    second = store.snapshot("default").tenants["acme"]
    assert second.status == "running" and second.gpu_limit == 4
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    assert second.service_requirements == {"callbot": 50, "chatbot": 100}
    assert second.sla_target == {"availability": "99.95%"} and second.gpu_type == "t4"


def test_tenant_registry_lists_and_removes(store):
    store.upsert_tenant("default", make_tenant("acme"))
    store.upsert_tenant("default", make_tenant("test-ai-service", preset="small", is_demo=True,
                                               status="pending", gpu_type=None, gpu_limit=0))
    tenants = store.snapshot("default").tenants
    assert sorted(tenants) == ["acme", "test-ai-service"]
    assert tenants["test-ai-service"].is_demo is True and tenants["test-ai-service"].gpu_type is None
    store.remove_tenant("default", "acme")
    assert sorted(store.snapshot("default").tenants) == ["test-ai-service"]
    with pytest.raises(StateError, match="no tenant acme in the registry of workspace default"):
        store.remove_tenant("default", "acme")


def test_tenants_held_names_the_tenants_with_resources_and_those_registered(store):
    store.put_resource("default", make_rs("tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme"))
    store.put_resource("default", make_rs("tenant.globex.postgres.role.owner", tenant="globex"))
    store.upsert_tenant("default", make_tenant("acme"))
    store.upsert_tenant("default", make_tenant("initech"))
    assert store.tenants_held("default") == ({"acme", "globex"}, {"acme", "initech"})
    store.remove_resource("default", "tenant.globex.postgres.role.owner")
    assert store.tenants_held("default")[0] == {"acme"}


def test_tenant_status_must_be_known(store):
    with pytest.raises(StateError, match="status 'done' is not one of pending, applying, running"):
        store.upsert_tenant("default", make_tenant(status="done"))
    assert store.snapshot("default").tenants == {}
