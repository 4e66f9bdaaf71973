"""The owner mark on Postgres roles and databases: a comment (`COMMENT ON ROLE/DATABASE`) in the
form `ecpctl owner: workspace=W lineage=L`, read back from pg_shdescription in one query for all
the roles and databases of a read (docs/ownership.md). Schemas, grants and extensions live inside
a tenant's database and are owned through it.

CREATE DATABASE cannot share a transaction with its COMMENT: an apply killed between the two leaves
a database without a mark. A database without a comment therefore has the owner of its owning
role (the tenant's owner role, which ecpctl made and marked first), so the next apply finishes
the job instead of refusing its own database."""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable, Mapping

import psycopg
from psycopg import sql

from ecpctl.kernel.ownership import Owner, owner_of_comment

MARKED = ("role", "database")

OWNERS = """
SELECT 'role', r.rolname, d.description
FROM pg_catalog.pg_roles r
JOIN pg_catalog.pg_shdescription d
  ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
WHERE r.rolname = ANY(%(roles)s)
UNION ALL
SELECT 'database', db.datname, COALESCE(d.description, o.description)
FROM pg_catalog.pg_database db
LEFT JOIN pg_catalog.pg_shdescription d
  ON d.objoid = db.oid AND d.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass
LEFT JOIN pg_catalog.pg_shdescription o
  ON o.objoid = db.datdba AND o.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
WHERE db.datname = ANY(%(databases)s)
"""

# One role's or database's mark, and whether it exists (a row with a NULL comment: unmarked)
ONE = {
    "role": """
SELECT d.description
FROM pg_catalog.pg_roles r
LEFT JOIN pg_catalog.pg_shdescription d
  ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
WHERE r.rolname = %(name)s
""",
    "database": """
SELECT COALESCE(d.description, o.description)
FROM pg_catalog.pg_database db
LEFT JOIN pg_catalog.pg_shdescription d
  ON d.objoid = db.oid AND d.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass
LEFT JOIN pg_catalog.pg_shdescription o
  ON o.objoid = db.datdba AND o.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass
WHERE db.datname = %(name)s
""",
}

# Where the plan binds to: the server's system identifier is made by initdb and survives renames
# of the host and moves of its address; it needs pg_control_system(), which only superusers and
# pg_monitor may call (without it, host:port/database is the identity left).
TARGET = "SELECT inet_server_addr()::text, inet_server_port(), current_database()"
SYSTEM_ID = "SELECT system_identifier::text FROM pg_catalog.pg_control_system()"


def owners(conn: psycopg.Connection, roles: Iterable[str], databases: Iterable[str]
           ) -> dict[tuple[str, str], Owner]:
    """(type, name) -> the owner its comment names; objects without a mark are absent."""
    with conn.cursor() as cur:
        cur.execute(OWNERS, {"roles": sorted(set(roles)), "databases": sorted(set(databases))})
        rows = cur.fetchall()
    out = {}
    for rtype, name, text in rows:
        owner = owner_of_comment(text)
        if owner is not None:
            out[(rtype, name)] = owner
    return out


def owner_now(conn: psycopg.Connection, rtype: str, name: str) -> tuple[bool, Owner | None]:
    """Whether the role or database `name` exists, and the owner its comment names (None: no
    mark). One query, for the write-time check of apply/destroy --no-refresh."""
    with conn.cursor() as cur:
        cur.execute(ONE[rtype], {"name": name})
        row = cur.fetchone()
    return row is not None, (owner_of_comment(row[0]) if row is not None else None)


def comment(rtype: str, name: str, owner: Owner) -> sql.Composed:
    keyword = sql.SQL("ROLE") if rtype == "role" else sql.SQL("DATABASE")
    return sql.SQL("COMMENT ON {} {} IS {}").format(keyword, sql.Identifier(name),
                                                    sql.Literal(owner.comment()))


def server_target(conn: psycopg.Connection, params: Mapping[str, Any]) -> dict[str, Any]:
    with conn.cursor() as cur:
        cur.execute(TARGET)
        addr, port, database = cur.fetchone()
        try:
            cur.execute(SYSTEM_ID)
            system_id = cur.fetchone()[0]
        except psycopg.errors.InsufficientPrivilege:
            system_id = None
    host = params.get("host") or addr or "localhost"
    port = int(params.get("port") or port or 5432)
    where = f"{host}:{port}/{database}"
    return {"host": host, "port": port, "database": database, "system_identifier": system_id,
            "identity": f"system identifier {system_id}" if system_id else where}
