"""The postgres provider against the real Postgres 15 of tests/testenv, through the real planner
and applier: apply, no-op re-plan, drift as exactly the changed field, safe deletes, bulk reads."""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import sql

from ecpctl.kernel import Address, Resource, make_address
from ecpctl.plan import Action
from providers.protocol import ApplyRequest, DeleteRequest, ReadRequest
from tests.integration.postgres_support import DSN_ENV, World, apply, changes, new_tenant_id, plan

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def addr(tid: str, rtype: str, name: str) -> str:
    return make_address(tid, "postgres", rtype, name)


@pytest.fixture
def world(postgres_server, monkeypatch, tmp_path):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    made: list[World] = []

    def make(*tenants: str, **spec) -> World:
        w = World(tmp_path / f"specs{len(made)}", tenants, **spec)
        made.append(w)
        return w

    yield make
    for w in made:
        if postgres_server.running:
            w.destroy()


def catalog(server, query: str, *params, db: str = "postgres"):
    with server.connect(db) as conn:
        return conn.execute(query, params).fetchall()


def test_tenant_applies_then_plan_has_no_changes(world, postgres_server):
    tid = new_tenant_id()
    w = world(tid, schemas=["analytics"])
    first = w.plan()
    assert {c.action for c in first.pending()} == {Action.CREATE}
    kinds = sorted({c.type for c in first.pending()})
    assert kinds == ["database", "extension", "grant", "role", "schema"]
    w.apply()

    again = w.plan()
    assert not again.has_changes, [(c.address, c.before, c.after) for c in again.pending()]
    # a direct read equals what apply recorded, object by object
    resp = w.provider.read(ReadRequest(desired=w.desired(), prior=[]))
    for a, rs in w.store.resources.items():
        assert resp.live[a].observed == rs.observed, a
    # the observed role carries no password; the recorded attributes do (state keeps it)
    role = w.state(addr(tid, "role", f"{tid}_app"))
    assert "password" not in role.observed and role.attributes["password"]
    assert catalog(postgres_server, "SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'",
                   db=tid) == [("pgcrypto",)]
    # PUBLIC lost CONNECT: another tenant's role cannot reach this database
    assert catalog(postgres_server, "SELECT a.privilege_type FROM pg_database d, "
                   "aclexplode(d.datacl) a WHERE d.datname = %s AND a.grantee = 0", tid) == []


def test_app_role_logs_in_with_its_password_and_uses_its_schema(world, postgres_server):
    tid = new_tenant_id()
    w = world(tid)
    w.apply()
    app = w.state(addr(tid, "role", f"{tid}_app"))
    password = app.attributes["password"]
    stored = catalog(postgres_server, "SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                     f"{tid}_app")[0][0]
    assert stored.startswith("SCRAM-SHA-256$") and password not in stored

    dsn = postgres_server.dsn(tid, f"{tid}_app", password)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.notes (id serial PRIMARY KEY, body text)")
                     .format(sql.Identifier(tid)))
        conn.execute(sql.SQL("INSERT INTO {}.notes (body) VALUES ('hello')").format(sql.Identifier(tid)))
        assert conn.execute(sql.SQL("SELECT body FROM {}.notes").format(sql.Identifier(tid))
                            ).fetchall() == [("hello",)]
        assert conn.execute("SELECT current_user").fetchone()[0] == f"{tid}_app"
        # pgcrypto was created in the tenant's schema
        conn.execute(sql.SQL("SELECT {}.gen_salt('bf')").format(sql.Identifier(tid)))

    # the owner role's future tables reach the app through default privileges
    with postgres_server.connect(tid) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(f"{tid}_owner")))
        conn.execute(sql.SQL("CREATE TABLE {}.shared (x int)").format(sql.Identifier(tid)))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("INSERT INTO {}.shared VALUES (1)").format(sql.Identifier(tid)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("TRUNCATE {}.shared").format(sql.Identifier(tid)))
    # tables the app owns and tables the owner made are both as the spec says: no changes
    assert not w.plan().has_changes

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.dsn(tid, f"{tid}_app", "not-the-password")).close()


class Recorder:
    """ApplyEvents that keep every progress message (retries are reported as progress)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.started_types: list[str] = []
        self.on_start = None

    def started(self, change) -> None:
        self.started_types.append(change.type)
        if self.on_start is not None:
            self.on_start(change)

    def progress(self, address: str, message: str) -> None:
        self.messages.append(f"{address}: {message}")

    def finished(self, change, error, seconds) -> None:
        pass


def only_change(p, address):
    pending = changes(p)
    assert list(pending) == [address], {a: (c.before, c.after) for a, c in pending.items()}
    c = pending[address]
    assert c.action is Action.UPDATE and "changed outside ecpctl" in c.reason
    return c


def test_hand_made_grant_revoke_and_alter_role_show_as_exactly_that_change(world, postgres_server):
    tid = new_tenant_id()
    w = world(tid, limit=20)
    w.apply()
    app, owner = f"{tid}_app", f"{tid}_owner"
    I = sql.Identifier  # noqa: E741 - reads as SQL does: I(name)

    def as_admin(stmt, db=tid):
        with postgres_server.connect(db) as conn:
            conn.execute(stmt)

    # GRANT on the database
    as_admin(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(I(tid), I(app)), "postgres")
    c = only_change(w.plan(), addr(tid, "grant", "app-database"))
    assert c.before["privileges"] == ["CONNECT", "CREATE", "TEMPORARY"]
    assert c.after["privileges"] == ["CONNECT", "TEMPORARY"]
    assert {k for k in c.before if c.before[k] != c.after[k]} == {"privileges"}
    w.apply()
    assert not w.plan().has_changes

    # REVOKE on the schema
    as_admin(sql.SQL("REVOKE USAGE ON SCHEMA {} FROM {}").format(I(tid), I(app)))
    c = only_change(w.plan(), addr(tid, "grant", "app-schema"))
    assert (c.before["privileges"], c.after["privileges"]) == (["CREATE"], ["CREATE", "USAGE"])
    w.apply()

    # GRANT TRUNCATE on a table of the schema: "all tables" gains exactly TRUNCATE
    with postgres_server.connect(tid) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(I(owner)))
        conn.execute(sql.SQL("CREATE TABLE {}.t1 (x int)").format(I(tid)))
        conn.execute(sql.SQL("CREATE TABLE {}.t2 (x int)").format(I(tid)))
    assert not w.plan().has_changes
    as_admin(sql.SQL("GRANT TRUNCATE ON ALL TABLES IN SCHEMA {} TO {}").format(I(tid), I(app)))
    c = only_change(w.plan(), addr(tid, "grant", "app-tables"))
    assert set(c.before["privileges"]) - set(c.after["privileges"]) == {"TRUNCATE"}
    assert set(c.after["privileges"]) <= set(c.before["privileges"])
    w.apply()
    held = catalog(postgres_server, "SELECT has_table_privilege(%s, %s, 'TRUNCATE')", app,
                   f'"{tid}".t1', db=tid)
    assert held == [(False,)]

    # default privileges changed by hand
    as_admin(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} REVOKE DELETE ON TABLES "
                     "FROM {}").format(I(owner), I(tid), I(app)))
    c = only_change(w.plan(), addr(tid, "grant", "app-default-tables"))
    assert set(c.after["privileges"]) - set(c.before["privileges"]) == {"DELETE"}
    w.apply()

    # ALTER ROLE: connection limit and a setting
    as_admin(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 5").format(I(app)), "postgres")
    c = only_change(w.plan(), addr(tid, "role", app))
    assert (c.before["connection_limit"], c.after["connection_limit"]) == (5, 20)
    assert "password" not in c.before and "password" not in c.after
    w.apply()
    as_admin(sql.SQL("ALTER ROLE {} SET work_mem = '64MB'").format(I(app)), "postgres")
    c = only_change(w.plan(), addr(tid, "role", app))
    assert (c.before["config"], c.after["config"]) == ({"work_mem": "64MB"}, {})
    w.apply()
    assert not w.plan().has_changes
    assert catalog(postgres_server, "SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = %s",
                   app) == [(20, None)]


def test_all_privileges_expand_to_explicit_sets_without_perpetual_diff(world, postgres_server):
    tid = new_tenant_id()
    w = world(tid, extensions=[])
    w.apply()
    grantee = role_resource(tid, f"{tid}_all", login=False)
    base = {"database": tid, "role": grantee.name, "schema": tid, "for_role": None}
    extra = []
    for kind, name in (("database", "all-db"), ("schema", "all-schema"), ("table", "all-tables"),
                       ("sequence", "all-seq"), ("default_table", "all-default")):
        attrs = {**base, "object_type": kind, "privileges": ["ALL"]}
        if kind == "database":
            attrs["schema"] = None
        if kind == "default_table":
            attrs["for_role"] = f"{tid}_owner"
        extra.append(Resource(addr=Address(tid, "postgres", "grant", name), attributes=attrs,
                              depends_on=(grantee.address, addr(tid, "schema", tid))))
    desired = [*w.desired(), grantee, *extra]
    with postgres_server.connect(tid) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(f"{tid}_owner")))
        conn.execute(sql.SQL("CREATE TABLE {}.t (id serial)").format(sql.Identifier(tid)))
    p = plan(w.ps, desired, w.store)
    apply(w.ps, p, w.store)
    obs = {r.name: w.state(r.address).observed["privileges"] for r in extra}
    assert obs["all-db"] == ["CONNECT", "CREATE", "TEMPORARY"]
    assert obs["all-schema"] == ["CREATE", "USAGE"]
    assert obs["all-tables"] == obs["all-default"] == [
        "DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]
    assert obs["all-seq"] == ["SELECT", "UPDATE", "USAGE"]
    again = plan(w.ps, desired, w.store)
    assert not again.has_changes, [(c.address, c.before, c.after) for c in again.pending()]


def test_read_costs_one_query_per_type_not_per_object(world, monkeypatch):
    a, b = new_tenant_id(), new_tenant_id()
    w = world(a, b, schemas=["analytics", "archive"])
    w.apply()
    provider = w.provider
    executed: list[str] = []
    lock = threading.Lock()
    real = psycopg.Cursor.execute

    def counting(self, query, params=None, **kw):
        with lock:
            executed.append(str(query)[:40])
        return real(self, query, params, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    desired = w.desired()
    resp = provider.read(ReadRequest(desired=desired, prior=list(w.store.resources.values())))
    per_tenant = 2 * (1 + 3 * 5)       # 2 roles, database, 3 schemas x (schema + 5 grants) ...
    assert len(desired) > 2 * per_tenant // 2
    # roles, databases, database grants, owner marks; then one per database (its schemas, schema
    # grants and extensions together)
    assert len(executed) == 4 + 2, executed
    assert sum(resp.requests.values()) == len(executed) - 1      # the owner marks' is not counted
    assert resp.requests == {"roles": 1, "databases": 1, "database_grants": 1,
                             "database_catalog": 2}
    assert len(resp.live) == len(desired)


def test_destroy_with_an_open_connection_to_the_database(world, postgres_server):
    tid = new_tenant_id()
    w = world(tid)
    w.apply()
    password = w.state(addr(tid, "role", f"{tid}_app")).attributes["password"]
    conn = psycopg.connect(postgres_server.dsn(tid, f"{tid}_app", password))
    conn.execute("SELECT 1")                      # idle in transaction, holding a snapshot
    try:
        p = plan(w.ps, [], w.store, destroy=True)
        assert {c.action for c in p.pending()} == {Action.DELETE}
        apply(w.ps, p, w.store)
        assert not w.store.resources
        assert catalog(postgres_server, "SELECT 1 FROM pg_database WHERE datname = %s", tid) == []
        assert catalog(postgres_server, "SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                       f"{tid}%") == []
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()


def role_resource(tid: str, name: str, **attrs) -> Resource:
    a = {"name": name, "login": True, "connection_limit": -1, "inherit": True, "config": {},
         "password": None, **attrs}
    return Resource(addr=Address(tid, "postgres", "role", name), attributes=a, sensitive=("password",))


def test_dropping_a_role_that_owns_objects_in_two_databases(world, postgres_server):
    tid = new_tenant_id()
    w = world(tid)
    provider = w.provider
    owner = f"{tid}_lonely"
    st = provider.apply(ApplyRequest(desired=role_resource(tid, owner), prior=None, live=None)).state
    dbs = [f"{tid}_one", f"{tid}_two"]
    I = sql.Identifier  # noqa: E741 - reads as SQL does: I(name)
    try:
        for db in dbs:
            postgres_server.create_database(db)
            with postgres_server.connect(db) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA s AUTHORIZATION {}").format(I(owner)))
                conn.execute(sql.SQL("SET ROLE {}").format(I(owner)))
                conn.execute("CREATE TABLE s.data (x int)")
                conn.execute("RESET ROLE")
                conn.execute(sql.SQL("GRANT SELECT ON pg_catalog.pg_class TO {}").format(I(owner)))
        with postgres_server.connect() as conn:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(I(dbs[0]), I(owner)))
        with pytest.raises(psycopg.errors.DependentObjectsStillExist):
            with postgres_server.connect() as conn:
                conn.execute(sql.SQL("DROP ROLE {}").format(I(owner)))

        provider.delete(DeleteRequest(prior=st))

        assert catalog(postgres_server, "SELECT 1 FROM pg_roles WHERE rolname = %s", owner) == []
        for db in dbs:    # what it owned was handed to the admin, not lost
            assert catalog(postgres_server, "SELECT pg_get_userbyid(relowner) FROM pg_class "
                           "WHERE relname = 'data'", db=db) == [("postgres",)]
    finally:
        for db in dbs:
            postgres_server.drop_database(db)


def test_parallel_grants_on_one_object_never_collide(world, postgres_server):
    """Twenty roles granted on the same database, schema, tables and default privileges at once."""
    tid = new_tenant_id()
    w = world(tid, extensions=[])
    w.apply()
    with postgres_server.connect(tid) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(f"{tid}_owner")))
        for i in range(5):
            conn.execute(sql.SQL("CREATE TABLE {}.{} (id serial)").format(
                sql.Identifier(tid), sql.Identifier(f"t{i}")))
    desired = list(w.desired())
    for i in range(20):
        role = role_resource(tid, f"{tid}_reader{i}", login=False)
        desired.append(role)
        for kind, privs in (("database", ["CONNECT"]), ("schema", ["USAGE"]),
                            ("table", ["SELECT"]), ("sequence", ["SELECT"]),
                            ("default_table", ["SELECT"])):
            name = f"reader{i}-{kind}"
            desired.append(Resource(
                addr=Address(tid, "postgres", "grant", name), depends_on=(role.address, addr(tid, "schema", tid)),
                attributes={"database": tid, "role": role.name, "object_type": kind,
                            "schema": None if kind == "database" else tid,
                            "for_role": f"{tid}_owner" if kind == "default_table" else None,
                            "privileges": privs}))
    events = Recorder()
    p = plan(w.ps, desired, w.store)
    assert len(p.pending()) == 20 * 6
    apply(w.ps, p, w.store, parallelism=10, events=events)
    assert not plan(w.ps, desired, w.store).has_changes
    p = plan(w.ps, w.desired(), w.store)              # and revoked again, in parallel
    assert sum(c.action is Action.DELETE for c in p.pending()) == 20 * 6
    apply(w.ps, p, w.store, parallelism=10, events=events)
    # not even a retried "tuple concurrently updated": the grants were serialized per object
    assert not [m for m in events.messages if "retrying" in m], events.messages


def test_replace_rotates_the_app_password(world, postgres_server):
    tid = new_tenant_id()
    w = world(tid)
    w.apply()
    role = addr(tid, "role", f"{tid}_app")
    old = w.state(role).attributes["password"]
    p = w.plan(replace=(role,))
    assert changes(p)[role].action is Action.UPDATE     # rotated in place: ALTER ROLE ... PASSWORD
    w.apply(replace=(role,))
    new = w.state(role).attributes["password"]
    assert new != old
    with psycopg.connect(postgres_server.dsn("postgres", f"{tid}_app", new)):
        pass
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.dsn("postgres", f"{tid}_app", old)).close()
    # the role kept its grants: nothing is left to do, and it can use its schema at once
    assert not w.plan().has_changes
    with psycopg.connect(postgres_server.dsn(tid, f"{tid}_app", new)) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.after_rotation (x int)").format(sql.Identifier(tid)))


def test_import_adopts_a_role_and_the_next_apply_sets_its_password(world, postgres_server):
    from providers.protocol import ImportRequest
    tid = new_tenant_id()
    w = world(tid, extensions=[])
    app = f"{tid}_app"
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 7").format(sql.Identifier(app)))
    desired = {r.address: r for r in w.desired()}
    address = addr(tid, "role", app)
    resp = w.provider.import_resource(ImportRequest(
        addr=desired[address].addr, id=app, desired=desired[address]))
    assert resp.state.observed["connection_limit"] == 7
    assert resp.state.attributes["password"] is None
    w.store.put_resource("test", resp.state)
    c = changes(w.plan())[address]
    assert c.action is Action.UPDATE and (c.before["connection_limit"], c.after["connection_limit"]) == (7, 20)
    w.apply()
    password = w.state(address).attributes["password"]
    with psycopg.connect(postgres_server.dsn("postgres", app, password)):
        pass
    missing = w.provider.import_resource(ImportRequest(
        addr=desired[address].addr, id="no_such_role", desired=desired[address]))
    assert missing.state is None


def test_an_unavailable_extension_is_a_permanent_one_line_error(world):
    from ecpctl.kernel import ProviderError
    tid = new_tenant_id()
    w = world(tid, extensions=[])
    w.apply()
    ext = Resource(addr=Address(tid, "postgres", "extension", "no_such_ext"),
                   attributes={"database": tid, "name": "no_such_ext", "schema": tid, "version": None})
    with pytest.raises(ProviderError) as err:
        w.provider.apply(ApplyRequest(desired=ext, prior=None, live=None))
    assert not err.value.retryable and "\n" not in str(err.value)
    assert str(err.value).startswith(f"apply {ext.address}: CREATE EXTENSION: ")
    assert "SQLSTATE" in str(err.value)
