"""Bulk reads of the catalogs: each function runs exactly one query, whatever the number of objects.

Roles, databases and database ACLs are cluster-wide and read through the admin database; schemas,
relation and default ACLs and extensions live in each database and are read there, in one query
per database (IN_DATABASE). Names are always bind parameters here, never part of the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

import psycopg

ROLES = """
SELECT r.rolname, r.rolcanlogin, r.rolconnlimit, r.rolinherit, r.rolsuper,
       COALESCE(r.rolconfig, '{}') AS rolconfig
FROM pg_catalog.pg_roles r
WHERE r.rolname = ANY(%(names)s)
"""

# to_jsonb(d) keeps this one query valid across versions (daticulocale in 15/16, datlocale in 17)
DATABASES = """
SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba) AS owner,
       pg_catalog.pg_encoding_to_char(d.encoding) AS encoding, d.datconnlimit, d.datallowconn,
       pg_catalog.to_jsonb(d) - 'datacl' AS raw
FROM pg_catalog.pg_database d
WHERE d.datname = ANY(%(names)s)
"""

DATABASE_ACLS = """
SELECT d.datname, g.rolname,
       array_agg(DISTINCT a.privilege_type ORDER BY a.privilege_type) AS privileges
FROM pg_catalog.pg_database d
CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
WHERE d.datname = ANY(%(databases)s) AND g.rolname = ANY(%(roles)s)
GROUP BY d.datname, g.rolname
"""

SCHEMAS = """
SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) AS owner
FROM pg_catalog.pg_namespace n
WHERE n.nspname = ANY(%(names)s)
"""

EXTENSIONS = """
SELECT e.extname, n.nspname, e.extversion
FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = ANY(%(names)s)
"""

# Every ACL a tenant's grants can hold in one database, in one query:
#   'exists'  one row per schema found (so a grant on a missing schema reads as absent)
#   'schema'  the schema's own ACL
#   'table' / 'sequence'  a grant "on all tables (sequences) in schema": the privileges the role
#             holds on EVERY relation of that kind in the schema that it does not own itself, with
#             the number of such relations (no row: there are none, and the grant holds vacuously)
#   'default_table' / 'default_sequence'  pg_default_acl of (for_role, schema)
# Only privileges granted to the role itself count (not through PUBLIC or role membership).
SCHEMA_ACLS = """
WITH grantees AS (
    SELECT oid, rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(%(roles)s)),
nsp AS (
    SELECT oid, nspname, nspowner, nspacl FROM pg_catalog.pg_namespace
    WHERE nspname = ANY(%(schemas)s)),
rels AS (
    SELECT c.oid, c.relnamespace, c.relowner,
           CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END AS kind,
           COALESCE(c.relacl, pg_catalog.acldefault(
               CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl
    FROM pg_catalog.pg_class c JOIN nsp ON nsp.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')),
counted AS (
    SELECT r.kind, r.relnamespace, g.oid AS grantee, count(*) AS n
    FROM rels r CROSS JOIN grantees g
    WHERE r.relowner <> g.oid
    GROUP BY r.kind, r.relnamespace, g.oid),
held AS (
    SELECT r.kind, r.relnamespace, a.grantee, a.privilege_type, count(DISTINCT r.oid) AS n
    FROM rels r CROSS JOIN LATERAL pg_catalog.aclexplode(r.acl) a
    JOIN grantees g ON g.oid = a.grantee
    WHERE r.relowner <> a.grantee
    GROUP BY r.kind, r.relnamespace, a.grantee, a.privilege_type)
SELECT 'exists' AS kind, nsp.nspname AS schema, NULL::name AS role, NULL::name AS for_role,
       NULL::text[] AS privileges, NULL::bigint AS relations
FROM nsp
UNION ALL
SELECT 'schema', nsp.nspname, g.rolname, NULL,
       ARRAY(SELECT DISTINCT a.privilege_type
             FROM pg_catalog.aclexplode(COALESCE(nsp.nspacl,
                                                 pg_catalog.acldefault('n', nsp.nspowner))) a
             WHERE a.grantee = g.oid ORDER BY 1),
       NULL
FROM nsp CROSS JOIN grantees g
UNION ALL
SELECT c.kind, nsp.nspname, g.rolname, NULL,
       ARRAY(SELECT h.privilege_type FROM held h
             WHERE h.kind = c.kind AND h.relnamespace = c.relnamespace AND h.grantee = c.grantee
               AND h.n = c.n ORDER BY 1),
       c.n
FROM counted c JOIN nsp ON nsp.oid = c.relnamespace JOIN grantees g ON g.oid = c.grantee
UNION ALL
SELECT CASE d.defaclobjtype WHEN 'r' THEN 'default_table' ELSE 'default_sequence' END,
       nsp.nspname, g.rolname, pg_catalog.pg_get_userbyid(d.defaclrole),
       ARRAY(SELECT DISTINCT a.privilege_type FROM pg_catalog.aclexplode(d.defaclacl) a
             WHERE a.grantee = g.oid ORDER BY 1),
       NULL
FROM pg_catalog.pg_default_acl d JOIN nsp ON nsp.oid = d.defaclnamespace CROSS JOIN grantees g
WHERE d.defaclobjtype IN ('r', 'S')
"""

# Everything ecpctl reads inside one tenant database, in one statement (one round trip, one plan):
# SCHEMA_ACLS's rows, where the 'exists' row of each schema carries its owner in `role`, and one
# 'extension' row per extension found (its schema in `role`, its version in `privileges`). A new
# connection's first statement pays for loading the database's catalog caches, so at 500 tenant
# databases a second and third statement on each cost about a fifth of the whole read.
IN_DATABASE = (SCHEMA_ACLS
               .replace("SELECT 'exists' AS kind, nsp.nspname AS schema, NULL::name AS role,",
                        "SELECT 'exists' AS kind, nsp.nspname AS schema, "
                        "pg_catalog.pg_get_userbyid(nsp.nspowner) AS role,")
               + """UNION ALL
SELECT 'extension', e.extname, n.nspname, NULL, ARRAY[e.extversion], NULL
FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = ANY(%(extensions)s)
""")
assert "pg_get_userbyid(nsp.nspowner) AS role" in IN_DATABASE


# Relations of one kind in one schema that `role` does not own, with the privileges it holds on
# each: what GRANT/REVOKE must touch to make "all tables in schema" exactly the desired set.
RELATIONS = """
SELECT c.relname,
       ARRAY(SELECT DISTINCT a.privilege_type
             FROM pg_catalog.aclexplode(COALESCE(c.relacl, pg_catalog.acldefault(
                 CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
             WHERE a.grantee = r.oid ORDER BY 1) AS privileges
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_roles r ON r.rolname = %(role)s
WHERE n.nspname = %(schema)s AND c.relowner <> r.oid
  AND (CASE WHEN %(kind)s = 'sequence' THEN c.relkind = 'S'
            ELSE c.relkind IN ('r', 'p', 'v', 'm', 'f') END)
ORDER BY c.relname
"""

# Databases in which a role owns objects or holds privileges (pg_shdepend), for a safe DROP ROLE.
ROLE_DATABASES = """
SELECT DISTINCT d.datname, d.datallowconn
FROM pg_catalog.pg_shdepend s
JOIN pg_catalog.pg_database d ON d.oid = s.dbid
JOIN pg_catalog.pg_roles r ON r.oid = s.refobjid
WHERE s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass AND r.rolname = %(role)s
ORDER BY d.datname
"""

ADMIN = """
SELECT current_user AS username, r.rolsuper, r.rolcreaterole, r.rolcreatedb,
       pg_catalog.current_setting('server_version_num')::int AS version
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
"""


@dataclass
class DatabaseAcls:
    """One database's schema-level reading (SCHEMA_ACLS), indexed for lookups."""

    schemas: set[str] = field(default_factory=set)
    rows: dict[tuple[str, str, str, str | None], tuple[list[str], int | None]] = field(
        default_factory=dict)     # (kind, schema, role, for_role) -> (privileges, relations)


def _rows(conn: psycopg.Connection, query: str, params: dict[str, Any]) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def roles(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, login, limit, inherit, superuser, config in _rows(conn, ROLES, {"names": sorted(set(names))}):
        out[name] = {"login": login, "connection_limit": limit, "inherit": inherit,
                     "superuser": superuser, "config": parse_role_config(config)}
    return out


def parse_role_config(items: Iterable[str]) -> dict[str, str]:
    out = {}
    for item in items or ():
        key, _, value = item.partition("=")
        out[key] = value
    return out


def databases(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, owner, encoding, limit, allowconn, raw in _rows(conn, DATABASES,
                                                              {"names": sorted(set(names))}):
        out[name] = {"owner": owner, "encoding": encoding, "connection_limit": limit,
                     "allow_connections": allowconn, "locale": database_locale(raw)}
    return out


def database_locale(raw: dict[str, Any]) -> str:
    """The locale as CREATE DATABASE ... LOCALE took it: libc's collate (= ctype), or the ICU or
    builtin provider's locale; `collate/ctype` when the two libc settings differ."""
    provider = raw.get("datlocprovider", "c")
    if provider != "c":
        return raw.get("datlocale") or raw.get("daticulocale") or ""
    collate, ctype = raw.get("datcollate", ""), raw.get("datctype", "")
    return collate if collate == ctype else f"{collate}/{ctype}"


def database_acls(conn: psycopg.Connection, databases: Iterable[str], roles: Iterable[str]
                  ) -> dict[tuple[str, str], list[str]]:
    rows = _rows(conn, DATABASE_ACLS, {"databases": sorted(set(databases)),
                                       "roles": sorted(set(roles))})
    return {(db, role): list(privs) for db, role, privs in rows}


def schemas(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {name: {"owner": owner}
            for name, owner in _rows(conn, SCHEMAS, {"names": sorted(set(names))})}


def extensions(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {name: {"schema": schema, "version": version}
            for name, schema, version in _rows(conn, EXTENSIONS, {"names": sorted(set(names))})}


def schema_acls(conn: psycopg.Connection, schemas: Iterable[str], roles: Iterable[str]
                ) -> DatabaseAcls:
    out = DatabaseAcls()
    for kind, schema, role, for_role, privs, n in _rows(
            conn, SCHEMA_ACLS, {"schemas": sorted(set(schemas)), "roles": sorted(set(roles))}):
        if kind == "exists":
            out.schemas.add(schema)
        else:
            out.rows[(kind, schema, role, for_role)] = (list(privs), n)
    return out


def in_database(conn: psycopg.Connection, schemas: Iterable[str], roles: Iterable[str],
                extensions: Iterable[str]
                ) -> tuple[dict[str, dict[str, Any]], DatabaseAcls, dict[str, dict[str, Any]]]:
    """One database's schemas (owner), schema-level ACLs (as schema_acls) and extensions, in one
    query (IN_DATABASE)."""
    found: dict[str, dict[str, Any]] = {}
    acls = DatabaseAcls()
    exts: dict[str, dict[str, Any]] = {}
    for kind, name, role, for_role, privs, n in _rows(
            conn, IN_DATABASE, {"schemas": sorted(set(schemas)), "roles": sorted(set(roles)),
                                "extensions": sorted(set(extensions))}):
        if kind == "exists":
            acls.schemas.add(name)
            found[name] = {"owner": role}
        elif kind == "extension":
            exts[name] = {"schema": role, "version": privs[0]}
        else:
            acls.rows[(kind, name, role, for_role)] = (list(privs), n)
    return found, acls, exts


def relations(conn: psycopg.Connection, kind: str, schema: str, role: str
              ) -> list[tuple[str, list[str]]]:
    return [(name, list(privs)) for name, privs in
            _rows(conn, RELATIONS, {"kind": kind, "schema": schema, "role": role})]


def role_databases(conn: psycopg.Connection, role: str) -> list[tuple[str, bool]]:
    return [(db, allow) for db, allow in _rows(conn, ROLE_DATABASES, {"role": role})]


def admin(conn: psycopg.Connection) -> dict[str, Any]:
    user, superuser, createrole, createdb, version = _rows(conn, ADMIN, {})[0]
    return {"user": user, "superuser": superuser, "createrole": createrole, "createdb": createdb,
            "version": version}
