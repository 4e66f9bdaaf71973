"""Changes, one function per resource type and verb. Each reads the object's current catalog row
first and then issues only the statements needed, so it is safe to run again after a failure.

Objects whose ACL or catalog row several resources change (a database, a schema, the relations of a
schema, a default-privileges entry) are serialized twice: a lock in this process, so that parallel
apply threads never even open competing transactions, and `pg_advisory_xact_lock` keyed by the
object, so that two ecpctl processes on one server cannot either. Together they prevent "tuple
concurrently updated".
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterator, Mapping

import psycopg
from psycopg import sql

from ecpctl.kernel import Conflict, Invalid, NotFound
from providers.postgres import catalog, ddl
from providers.postgres import privileges as privs
from providers.postgres.connection import (DatabaseMissing, Pool, lock_holders, lock_timeout_error,
                                          translate)
from providers.postgres.objects import canonical_encoding

# what the admin role lacks when a statement is refused, by statement
NEEDS = {
    "CREATE ROLE": "CREATEROLE (or to be a superuser)",
    "ALTER ROLE": "CREATEROLE and membership in the role (or to be a superuser)",
    "GRANT ROLE": "CREATEROLE (or to be a superuser)",
    "DROP ROLE": "CREATEROLE and membership in the role (or to be a superuser)",
    "REASSIGN OWNED": "membership in the role being dropped (or to be a superuser)",
    "DROP OWNED": "membership in the role being dropped (or to be a superuser)",
    "CREATE DATABASE": "CREATEDB and membership in the owner role (or to be a superuser)",
    "ALTER DATABASE": "to own the database or be a member of its owner role",
    "DROP DATABASE": "to own the database or be a member of its owner role",
    "CREATE SCHEMA": "CREATE on the database and membership in the owner role",
    "ALTER SCHEMA": "membership in the schema's owner role",
    "DROP SCHEMA": "membership in the schema's owner role",
    "GRANT": "to own the object or be a member of its owner role",
    "REVOKE": "to own the object or be a member of its owner role",
    "ALTER DEFAULT PRIVILEGES": "membership in the role whose defaults change (for_role)",
    "CREATE EXTENSION": "to be a superuser for an untrusted extension, or CREATE on the "
                        "database for a trusted one",
    "ALTER EXTENSION": "to own the extension (or to be a superuser)",
    "DROP EXTENSION": "to own the extension (or to be a superuser)",
}


class KeyedLocks:
    """One lock per object key, made on first use."""

    def __init__(self) -> None:
        self._locks: dict[tuple, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: tuple) -> Iterator[None]:
        with self._guard:
            lock = self._locks[key]
        with lock:
            yield


def advisory_key(key: tuple) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock, the same in every ecpctl process."""
    digest = hashlib.blake2b(repr(("ecpctl",) + key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class Ops:
    """What changes need from the configured provider."""

    pool: Pool
    scrub: Callable[[str], str]
    admin: str                     # REASSIGN OWNED target; member of every role ecpctl creates
    admin_is_superuser: bool
    server_version: int
    locks: KeyedLocks = field(default_factory=KeyedLocks)

    # --- plumbing ----------------------------------------------------------------------------

    def _run(self, dbname: str, fn: Callable[[Step, psycopg.Connection], Any]) -> Any:
        step = Step()
        try:
            return self.pool.run(dbname, lambda conn: fn(step, conn))
        except psycopg.Error as exc:
            if getattr(exc, "sqlstate", None) == "55P03":          # lock_timeout ran out
                raise self._lock_timeout(exc, step, dbname) from exc
            raise translate(exc, op=step.op or "query", needs=NEEDS.get(step.op or ""),
                            scrub=self.scrub) from exc

    def _lock_timeout(self, exc: psycopg.Error, step: Step, dbname: str) -> Exception:
        try:
            holders = self.pool.run(dbname, lock_holders)
        except Exception:  # noqa: BLE001 - the diagnosis is best effort; the timeout is the error
            holders = ""
        return lock_timeout_error(exc, op=step.op or "query", what=step.what,
                                  settings=self.pool.settings, holders=holders, scrub=self.scrub)

    @contextmanager
    def _serialized(self, step: Step, conn: psycopg.Connection, key: tuple) -> Iterator[None]:
        """A transaction holding both the in-process lock and the advisory lock of `key`."""
        with self.locks.hold(key):
            with conn.transaction():
                step.op = "LOCK"
                conn.execute(ddl.advisory_xact_lock(advisory_key(key)))
                yield

    # --- roles -------------------------------------------------------------------------------

    def apply_role(self, attrs: Mapping[str, Any], *, prior_attrs: Mapping[str, Any] | None,
                   replace: bool, mark: sql.Composable | None = None) -> None:
        """Create or alter the role; `mark` (its owner COMMENT) is written in the same transaction,
        so no kill leaves a role ecpctl made without the mark that says so."""
        name = attrs["name"]
        password = attrs.get("password")
        login = bool(attrs.get("login", False))
        inherit = bool(attrs.get("inherit", True))
        limit = int(attrs.get("connection_limit", -1))
        config = {str(k): str(v) for k, v in (attrs.get("config") or {}).items()}
        rotate = bool(password) and (prior_attrs is None or replace
                                     or prior_attrs.get("password") != password)

        def fn(step: Step, conn: psycopg.Connection) -> None:
            live = catalog.roles(conn, [name]).get(name)
            verifier = _scram_verifier(conn, name, password) if (rotate or live is None) and password \
                else None
            with conn.transaction():
                if live is None:
                    step.run(conn, "CREATE ROLE", ddl.create_role(
                        name, login=login, inherit=inherit, connection_limit=limit,
                        password_verifier=verifier))
                    current: Mapping[str, str] = {}
                else:
                    stmt = ddl.alter_role(
                        name,
                        login=login if live["login"] != login else None,
                        inherit=inherit if live["inherit"] != inherit else None,
                        connection_limit=limit if live["connection_limit"] != limit else None,
                        password_verifier=verifier)
                    if stmt is not None:
                        step.run(conn, "ALTER ROLE", stmt)
                    current = live["config"]
                if (live is None or prior_attrs is None) and not self.admin_is_superuser \
                        and name != self.admin:
                    # Postgres 15: the admin manages (REASSIGN, ALTER DEFAULT PRIVILEGES,
                    # CREATE DATABASE ... OWNER) only roles it is a member of
                    step.run(conn, "GRANT ROLE", ddl.grant_membership(name, self.admin))
                for key in sorted(set(current) - set(config)):
                    step.run(conn, "ALTER ROLE", ddl.role_reset(name, key))
                for key in sorted(config):
                    if current.get(key) != config[key]:
                        step.run(conn, "ALTER ROLE", ddl.role_set(name, key, config[key]))
                if mark is not None:
                    step.run(conn, "COMMENT ON ROLE", mark)

        self._run(self.pool.admin_db, fn)

    def delete_role(self, name: str) -> None:
        """REASSIGN OWNED to the admin and DROP OWNED in every database where the role owns
        objects or holds privileges, then DROP ROLE."""
        if name == self.admin:
            raise Invalid(f"refusing to drop {name!r}: it is the admin role ecpctl connects as")

        def find(step: Step, conn: psycopg.Connection):
            if name not in catalog.roles(conn, [name]):
                return None
            return catalog.role_databases(conn, name)

        where = self._run(self.pool.admin_db, find)
        if where is None:
            return

        def disown(step: Step, conn: psycopg.Connection) -> None:
            with self.locks.hold(("owned", conn.info.dbname)), conn.transaction():
                step.run(conn, "REASSIGN OWNED", ddl.reassign_owned(name, self.admin))
                step.run(conn, "DROP OWNED", ddl.drop_owned(name))

        for db, allow in where:
            if db == self.pool.admin_db:
                continue
            if not allow:
                raise Conflict(f"DROP ROLE: role {name!r} has objects or privileges in "
                                    f"database {db!r}, which does not allow connections")
            try:
                self._run(db, disown)
            except DatabaseMissing:
                continue                          # dropped meanwhile, with what the role had there

        def drop(step: Step, conn: psycopg.Connection) -> None:
            disown(step, conn)                    # also covers shared objects (databases owned)
            step.run(conn, "DROP ROLE", ddl.drop_role(name))

        self._run(self.pool.admin_db, drop)

    # --- databases ---------------------------------------------------------------------------

    def apply_database(self, attrs: Mapping[str, Any], *, adopt: bool) -> None:
        name, owner = attrs["name"], attrs["owner"]
        encoding = attrs.get("encoding") or "UTF8"
        locale = attrs.get("locale") or "C"
        limit = int(attrs.get("connection_limit", -1))

        def fn(step: Step, conn: psycopg.Connection) -> None:
            live = catalog.databases(conn, [name]).get(name)
            if live is None:
                # CREATE DATABASE cannot run inside a transaction: the connection is autocommit
                step.run(conn, "CREATE DATABASE", ddl.create_database(
                    name, owner=owner, encoding=encoding, locale=locale, connection_limit=limit))
            else:
                if live["encoding"] != canonical_encoding(encoding) or live["locale"] != locale:
                    raise Conflict(
                        f"database {name!r} exists with encoding {live['encoding']} and locale "
                        f"{live['locale']}; these cannot change in place (plan a replacement)")
            with self._serialized(step, conn, ("database", name)):
                if live is None or adopt:
                    # tenants must not reach each other's databases through PUBLIC's CONNECT
                    step.run(conn, "REVOKE", ddl.revoke_database_from_public(name))
                if live is not None:
                    if live["owner"] != owner:
                        step.run(conn, "ALTER DATABASE", ddl.alter_database_owner(name, owner))
                    if live["connection_limit"] != limit:
                        step.run(conn, "ALTER DATABASE",
                                 ddl.alter_database_connection_limit(name, limit))
                    if not live["allow_connections"]:
                        step.run(conn, "ALTER DATABASE",
                                 ddl.alter_database_allow_connections(name, True))

        self._run(self.pool.admin_db, fn)

    def delete_database(self, name: str) -> None:
        """Block new connections, then DROP ... WITH (FORCE) ends the open ones."""
        if name in (self.pool.admin_db, "postgres", "template0", "template1"):
            raise Invalid(f"refusing to drop the database {name!r}")
        self.pool.forget(name)

        def fn(step: Step, conn: psycopg.Connection) -> None:
            if name not in catalog.databases(conn, [name]):
                return
            # not while a role's objects in it are being reassigned (DROP ROLE of a tenant role)
            with self.locks.hold(("owned", name)):
                step.run(conn, "ALTER DATABASE", ddl.alter_database_allow_connections(name, False))
                step.run(conn, "DROP DATABASE", ddl.drop_database(name))

        self._run(self.pool.admin_db, fn)
        self.pool.forget(name)

    def database_exists(self, name: str) -> bool:
        def fn(step: Step, conn: psycopg.Connection) -> bool:
            d = catalog.databases(conn, [name]).get(name)
            return d is not None and d["allow_connections"]
        return self._run(self.pool.admin_db, fn)

    # --- schemas -----------------------------------------------------------------------------

    def apply_schema(self, attrs: Mapping[str, Any]) -> None:
        db, name, owner = attrs["database"], attrs["name"], attrs["owner"]

        def fn(step: Step, conn: psycopg.Connection) -> None:
            with self._serialized(step, conn, ("schema", db, name)):
                live = catalog.schemas(conn, [name]).get(name)
                if live is None:
                    step.run(conn, "CREATE SCHEMA", ddl.create_schema(name, owner))
                elif live["owner"] != owner:
                    step.run(conn, "ALTER SCHEMA", ddl.alter_schema_owner(name, owner))

        self._run(db, fn)

    def delete_schema(self, attrs: Mapping[str, Any]) -> None:
        db, name = attrs["database"], attrs["name"]
        if not self.database_exists(db):
            return

        def fn(step: Step, conn: psycopg.Connection) -> None:
            with self.locks.hold(("owned", db)), self._serialized(step, conn, ("schema", db, name)):
                step.run(conn, "DROP SCHEMA", ddl.drop_schema(name))

        try:
            self._run(db, fn)
        except DatabaseMissing:
            pass                                  # dropped meanwhile, and the object with it

    # --- grants ------------------------------------------------------------------------------

    def set_grant(self, shape: Mapping[str, Any], want: list[str] | None) -> None:
        """Make the role's privileges on the object exactly `want` (None or []: none at all)."""
        kind, db, role = shape["object_type"], shape["database"], shape["role"]
        schema, for_role = shape.get("schema"), shape.get("for_role")
        want_set = set(want or ())
        every = set(privs.allowed(kind, self.server_version))
        if kind == "database":
            key: tuple = ("database", db)
        elif kind == "schema":
            key = ("schema", db, schema)
        elif kind in privs.DEFAULT_TYPES:
            key = ("default", db, schema, for_role, kind)
        else:
            key = ("relations", db, schema, kind)
        where = self.pool.admin_db if kind == "database" else db

        def change(step: Step, conn: psycopg.Connection, grant: bool, p: set[str], **kw) -> None:
            if not p or ("relations" in kw and not kw["relations"]):
                return
            op = "ALTER DEFAULT PRIVILEGES" if kind in privs.DEFAULT_TYPES else \
                ("GRANT" if grant else "REVOKE")
            step.run(conn, op, ddl.change_privileges(grant, kind, p, role=role, database=db,
                                                     schema=schema, for_role=for_role, **kw))

        def fn(step: Step, conn: psycopg.Connection) -> None:
            with self._serialized(step, conn, key):
                step.op = "read"
                if kind == "database":
                    held = set(catalog.database_acls(conn, [db], [role]).get((db, role), []))
                elif kind in ("table", "sequence"):
                    rels = catalog.relations(conn, kind, schema, role)
                    missing = [n for n, h in rels if not want_set <= set(h)]
                    extra = [n for n, h in rels if set(h) - want_set]
                    change(step, conn, False, every - want_set, relations=extra)
                    change(step, conn, True, want_set, relations=missing)
                    return
                else:
                    acls = catalog.schema_acls(conn, [schema], [role])
                    if schema not in acls.schemas:
                        if want_set:
                            raise NotFound(f"schema {schema!r} does not exist in database {db!r}")
                        return
                    held = set(acls.rows.get((kind, schema, role, for_role), ([], None))[0])
                change(step, conn, False, held - want_set)
                change(step, conn, True, want_set - held)

        self._run(where, fn)

    def delete_grant(self, shape: Mapping[str, Any]) -> None:
        db = shape["database"]
        if not self.database_exists(db):
            return

        def gone(step: Step, conn: psycopg.Connection) -> bool:
            names = [shape["role"]] + ([shape["for_role"]] if shape.get("for_role") else [])
            return len(catalog.roles(conn, names)) < len(set(names))

        if self._run(self.pool.admin_db, gone):
            return                        # DROP ROLE already took its privileges with it
        try:
            self.set_grant(shape, None)
        except DatabaseMissing:
            pass

    # --- extensions --------------------------------------------------------------------------

    def apply_extension(self, attrs: Mapping[str, Any]) -> None:
        db, name, schema = attrs["database"], attrs["name"], attrs["schema"]
        version = attrs.get("version")

        def fn(step: Step, conn: psycopg.Connection) -> None:
            with self._serialized(step, conn, ("extension", db, name)):
                live = catalog.extensions(conn, [name]).get(name)
                if live is None:
                    step.run(conn, "CREATE EXTENSION", ddl.create_extension(name, schema, version))
                    return
                if live["schema"] != schema:
                    step.run(conn, "ALTER EXTENSION", ddl.alter_extension_schema(name, schema))
                if version and live["version"] != version:
                    step.run(conn, "ALTER EXTENSION", ddl.update_extension(name, version))

        self._run(db, fn)

    def delete_extension(self, attrs: Mapping[str, Any]) -> None:
        db, name = attrs["database"], attrs["name"]
        if not self.database_exists(db):
            return

        def fn(step: Step, conn: psycopg.Connection) -> None:
            with self._serialized(step, conn, ("extension", db, name)):
                step.run(conn, "DROP EXTENSION", ddl.drop_extension(name))

        try:
            self._run(db, fn)
        except DatabaseMissing:
            pass                                  # dropped meanwhile, and the object with it


class Step:
    """Remembers which statement runs, so a failure names it (and what the admin lacks)."""

    def __init__(self) -> None:
        self.op: str | None = None
        self.what = ""

    def run(self, conn: psycopg.Connection, op: str, stmt: sql.Composable) -> None:
        self.op = op
        self.what = _object_named(stmt)
        conn.execute(stmt)


def _object_named(stmt: sql.Composable) -> str:
    """The first identifier of a statement: the object a DDL acts on (`ALTER ROLE "x" ...`).
    Identifiers only: literals (where a password would be) are never looked at."""
    for part in getattr(stmt, "_obj", None) or ():
        if isinstance(part, sql.Identifier):
            return ".".join(part._obj)
    return ""


def _scram_verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    """libpq's PQencryptPasswordConn: the server (and its statement log) sees only the verifier."""
    return conn.pgconn.encrypt_password(password.encode("utf-8"), role.encode("utf-8"),
                                        b"scram-sha-256").decode("ascii")
