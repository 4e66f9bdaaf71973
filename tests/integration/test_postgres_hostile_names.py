"""Hostile names against the real server: each is applied with exactly the requested name (quoted
through psycopg.sql.Identifier) or rejected with a one-line error; none executes anything else."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from ecpctl.kernel import Address, ProviderError, Resource
from providers.protocol import ApplyRequest, ReadRequest, ValidateRequest
from tests.integration.postgres_support import (
    DSN_ENV,
    MemoryStore,
    apply,
    new_tenant_id,
    plan,
    providers,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

TAG = new_tenant_id("h")     # keeps this run's names apart from any other test's

ACCEPTED = [
    'x"; DROP TABLE canary; --',
    "robert'); DROP TABLE canary;--",
    "select", "user", "table", "ALL", "MiXeD Case",
    "semi;colon", "dash--dash", "/* comment */", "back\\slash", '"quoted"', "it's",
    " leading and trailing ", "tab\there", "new\nline",
    "Ünïcödé_테넌트", "émoji🚀", "%s", "%(x)s", "{}", "{0}", "$1", "@extschema@",
    "a" * 63,                 # exactly the limit
    "한" * 21,                # 63 bytes in UTF-8
]

REJECTED = [
    ("a" * 64, "is 64 bytes long in UTF-8; Postgres allows at most 63"),
    ("한" * 22, "is 66 bytes long in UTF-8"),
    ("nul\x00byte", "contains a NUL byte"),
    ("", "must not be empty"),
]


def unique(name: str, i: int) -> str:
    """The corpus name made unique to this run while keeping its hostile part intact."""
    tagged = f"{name}{TAG}{i}"
    return tagged if len(tagged.encode()) <= 63 else name


def res(rtype: str, key: str, attrs: dict, deps=()) -> Resource:
    return Resource(addr=Address(TAG, "postgres", rtype, key), attributes=attrs, depends_on=tuple(deps))


def objects_for(name: str, i: int) -> list[Resource]:
    role = res("role", f"r{i}", {"name": name, "login": False, "connection_limit": 3,
                                 "inherit": True, "config": {}})
    db = res("database", f"d{i}", {"name": name, "owner": name, "encoding": "UTF8",
                                   "locale": "C", "connection_limit": -1}, [role.address])
    schema = res("schema", f"s{i}", {"database": name, "name": name, "owner": name},
                 [db.address, role.address])
    deps = [role.address, db.address, schema.address]
    grants = [res("grant", f"g{i}-{kind}", {
        "database": name, "role": name, "object_type": kind,
        "schema": None if kind == "database" else name,
        "for_role": name if kind.startswith("default_") else None,
        "privileges": ["ALL"]}, deps)
        for kind in ("database", "schema", "table", "default_table")]
    ext = res("extension", f"e{i}", {"database": name, "name": "pgcrypto", "schema": name,
                                     "version": None}, deps)
    return [role, db, schema, *grants, ext]


def connect(server, db: str = "postgres") -> psycopg.Connection:
    """A superuser connection to any database name (a URL cannot carry every name)."""
    return psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname=db,
                           autocommit=True)


@pytest.fixture
def canaries(postgres_server):
    def make(db: str = "postgres") -> None:
        with connect(postgres_server, db) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS public.canary (alive boolean)")
            conn.execute("INSERT INTO public.canary VALUES (true)")

    def alive(db: str = "postgres") -> bool:
        with connect(postgres_server, db) as conn:
            return conn.execute("SELECT count(*) FROM public.canary").fetchone()[0] > 0

    make()
    return make, alive


def test_hostile_names_are_applied_verbatim_and_execute_nothing_else(
        postgres_server, monkeypatch, canaries):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    make_canary, canary_alive = canaries
    names = [unique(n, i) for i, n in enumerate(ACCEPTED)]
    assert len(set(names)) == len(names)
    desired = [r for i, n in enumerate(names) for r in objects_for(n, i)]
    ps = providers()
    store = MemoryStore()
    provider = ps.get("postgres")
    assert provider.validate(ValidateRequest(resources=desired)).diagnostics == ()
    try:
        # roles and databases first, then a canary inside every new database
        first = [r for r in desired if r.type in ("role", "database")]
        apply(ps, plan(ps, first, store), store)
        for n in names:
            make_canary(n)
        apply(ps, plan(ps, desired, store), store)

        with postgres_server.connect() as conn:
            roles = {r for (r,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                                (names,))}
            dbs = {d for (d,) in conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                                              (names,))}
        assert roles == set(names) and dbs == set(names)
        for n in names:
            with connect(postgres_server, n) as conn:
                found = conn.execute(
                    "SELECT n.nspname, e.extname FROM pg_namespace n "
                    "JOIN pg_extension e ON e.extnamespace = n.oid WHERE n.nspname = %s",
                    (n,)).fetchall()
                assert found == [(n, "pgcrypto")], repr(n)
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(n)))
                conn.execute(sql.SQL("CREATE TABLE {}.{} (x int)").format(
                    sql.Identifier(n), sql.Identifier(n)))
            assert canary_alive(n), repr(n)
        assert canary_alive()

        # read back: every name round-trips, so the second plan has nothing to do
        again = plan(ps, desired, store)
        assert not again.has_changes, [(c.address, c.before, c.after) for c in again.pending()]
        live = provider.read(ReadRequest(desired=desired, prior=[])).live
        assert {a: lv.observed for a, lv in live.items()} == \
            {a: s.observed for a, s in store.resources.items()}
    finally:
        apply(ps, plan(ps, [], store, destroy=True), store)
        ps.close()
    assert canary_alive()
    with postgres_server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                            (names,)).fetchone()[0] == 0


@pytest.mark.parametrize("name,message", REJECTED, ids=["64-bytes", "66-bytes-utf8", "nul", "empty"])
def test_unusable_names_are_rejected_with_one_line_naming_address_and_field(
        postgres_server, monkeypatch, name, message):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    ps = providers()
    provider = ps.get("postgres")
    desired = objects_for(name, 0)
    try:
        diags = provider.validate(ValidateRequest(resources=desired)).diagnostics
        assert {d.address for d in diags} == {r.address for r in desired}
        for d in diags:
            line = d.one_line()
            assert "\n" not in line and "\x00" not in line and message in line, line
            assert d.field in ("name", "owner", "database", "role", "schema", "for_role")
            assert line.startswith(f"{d.address}: {d.field}: ")
        # the planner reports them, and apply refuses them even if called directly
        p = plan(ps, desired, MemoryStore())
        assert sum(d.severity.value == "error" for d in p.diagnostics) >= len(desired)
        with pytest.raises(ProviderError) as err:
            provider.apply(ApplyRequest(desired=desired[0], prior=None, live=None))
        assert message in err.value.reason and "\n" not in str(err.value)
        with postgres_server.connect() as conn:
            prefix = name[:63].replace("\x00", "")
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                                (prefix,)).fetchone()[0] == 0
    finally:
        ps.close()


@pytest.mark.parametrize("rtype,attrs,field,message", [
    ("role", {"name": "pg_sneaky"}, "name", "reserved prefix pg_"),
    ("role", {"name": "public"}, "name", "reserved by Postgres"),
    ("schema", {"database": "x", "name": "pg_temp_9", "owner": "x"}, "name", "reserved prefix pg_"),
    ("grant", {"database": "x", "role": "x", "object_type": "table", "schema": "x",
               "privileges": ["SELECT", "DROP"]}, "privileges", "'DROP' is not a privilege"),
    ("grant", {"database": "x", "role": "x", "object_type": "function", "schema": "x",
               "privileges": []}, "object_type", "is not one of"),
])
def test_reserved_names_and_bad_privileges_are_rejected(postgres_server, monkeypatch, rtype, attrs,
                                                         field, message):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    ps = providers()
    full = {"login": False, "connection_limit": -1, "inherit": True, **attrs} \
        if rtype == "role" else attrs
    r = res(rtype, "bad", full)
    diags = ps.get("postgres").validate(ValidateRequest(resources=[r])).diagnostics
    ps.close()
    assert [(d.field, message in d.summary) for d in diags] == [(field, True)], diags
