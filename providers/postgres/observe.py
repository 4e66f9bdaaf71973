"""Assemble `observed` views for many objects from the bulk catalog reads.

Queries: one per resource type in the admin database (roles, databases, database ACLs), then one
in each tenant database that holds objects of interest (its schemas, schema-level ACLs and
extensions together); the tenant databases are read in parallel over the bounded pool, and only
those of the read's resources (a `--target` plan reads its tenants' databases alone). The count
never depends on how many objects, privileges or tables there are.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Iterable, Mapping

import psycopg

from ecpctl.kernel import Diagnostic
from providers.postgres import catalog
from providers.postgres.connection import DatabaseMissing, Pool, translate
from providers.postgres.privileges import DEFAULT_TYPES


@dataclass(frozen=True)
class Wanted:
    """One object to look for: its address, type and desired (or recorded) shape."""

    address: str
    type: str
    shape: Mapping[str, Any]


class Reader:
    def __init__(self, pool: Pool, *, scrub: Callable[[str], str], workers: int):
        self._pool = pool
        self._scrub = scrub
        self._workers = max(1, workers)

    def observe(self, wanted: Iterable[Wanted]
                ) -> tuple[dict[str, dict[str, Any]], list[Diagnostic], dict[str, int]]:
        """Observed views by address (absent: not found), warnings, and queries run per kind."""
        wanted = list(wanted)
        counts: Counter[str] = Counter()
        counts_lock = threading.Lock()

        def query(verb: str, fn, *args):
            with counts_lock:
                counts[verb] += 1
            return fn(*args)

        role_names: set[str] = set()
        db_names: set[str] = set()
        for w in wanted:
            s = w.shape
            if w.type == "role":
                role_names.add(s["name"])
            elif w.type == "database":
                db_names.add(s["name"])
            elif w.type == "grant":
                db_names.add(s["database"])
                role_names.add(s["role"])
                if s.get("for_role"):
                    role_names.add(s["for_role"])
            else:
                db_names.add(s["database"])
        db_grants = [w for w in wanted if w.type == "grant" and w.shape["object_type"] == "database"]

        def admin_reads(conn: psycopg.Connection):
            roles = query("roles", catalog.roles, conn, role_names) if role_names else {}
            dbs = query("databases", catalog.databases, conn, db_names) if db_names else {}
            acl_dbs = {w.shape["database"] for w in db_grants if w.shape["database"] in dbs}
            acls = (query("database_grants", catalog.database_acls, conn, acl_dbs,
                                {w.shape["role"] for w in db_grants}) if acl_dbs else {})
            return roles, dbs, acls

        try:
            roles, dbs, db_acls = self._pool.run(self._pool.admin_db, admin_reads)
        except psycopg.Error as exc:
            raise translate(exc, op="read catalogs", scrub=self._scrub) from exc

        diags: list[Diagnostic] = []
        per_db: dict[str, dict[str, set[str]]] = {}
        for w in wanted:
            db = w.shape.get("database") if w.type in ("schema", "extension", "grant") else None
            if db is None or (w.type == "grant" and w.shape["object_type"] == "database"):
                continue
            if db not in dbs:
                continue
            if not dbs[db]["allow_connections"]:
                diags.append(Diagnostic.warning(
                    f"database {db!r} does not allow connections (an interrupted destroy?); "
                    "objects in it read as absent", address=w.address))
                continue
            want = per_db.setdefault(db, {"schemas": set(), "extensions": set(),
                                          "acl_schemas": set(), "acl_roles": set()})
            if w.type == "schema":
                want["schemas"].add(w.shape["name"])
            elif w.type == "extension":
                want["extensions"].add(w.shape["name"])
            else:
                want["acl_schemas"].add(w.shape["schema"])
                want["acl_roles"].add(w.shape["role"])

        def db_reads(db: str):
            want = per_db[db]

            def fn(conn: psycopg.Connection):
                return query("database_catalog", catalog.in_database, conn,
                             want["schemas"] | want["acl_schemas"], want["acl_roles"],
                             want["extensions"])
            try:
                return db, self._pool.run(db, fn)
            except DatabaseMissing:
                return db, None                   # dropped since the admin database was read
            except psycopg.Error as exc:
                raise translate(exc, op=f"read database {db!r}", scrub=self._scrub) from exc

        in_db: dict[str, tuple[dict, catalog.DatabaseAcls, dict]] = {}
        if per_db:
            workers = min(self._workers, len(per_db))
            if workers == 1:
                found = [db_reads(db) for db in sorted(per_db)]
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    found = list(pool.map(db_reads, sorted(per_db)))
            in_db = {db: reading for db, reading in found if reading is not None}

        out: dict[str, dict[str, Any]] = {}
        for w in wanted:
            obs = _observed(w, roles, dbs, db_acls, in_db)
            if obs is not None:
                out[w.address] = obs
        return out, diags, dict(counts)


def _observed(w: Wanted, roles, dbs, db_acls, in_db) -> dict[str, Any] | None:
    s = w.shape
    if w.type == "role":
        r = roles.get(s["name"])
        if r is None:
            return None
        return {"name": s["name"], "login": r["login"], "connection_limit": r["connection_limit"],
                "inherit": r["inherit"], "config": dict(r["config"])}
    if w.type == "database":
        d = dbs.get(s["name"])
        if d is None:
            return None
        return {"name": s["name"], "owner": d["owner"], "encoding": d["encoding"],
                "locale": d["locale"], "connection_limit": d["connection_limit"]}
    if w.type == "grant" and s["object_type"] == "database":
        if s["database"] not in dbs or s["role"] not in roles:
            return None
        return {**s, "privileges": sorted(db_acls.get((s["database"], s["role"]), []))}
    reading = in_db.get(s["database"])
    if reading is None:
        return None
    schemas, acls, extensions = reading
    if w.type == "schema":
        found = schemas.get(s["name"])
        return None if found is None else {"database": s["database"], "name": s["name"],
                                           "owner": found["owner"]}
    if w.type == "extension":
        found = extensions.get(s["name"])
        return None if found is None else {"database": s["database"], "name": s["name"],
                                           "schema": found["schema"], "version": found["version"]}
    # schema-scoped grant
    kind, schema, role, for_role = s["object_type"], s["schema"], s["role"], s.get("for_role")
    if schema not in acls.schemas or role not in roles:
        return None
    if kind in DEFAULT_TYPES:
        if for_role not in roles:
            return None
        held, _ = acls.rows.get((kind, schema, role, for_role), ([], None))
    elif kind == "schema":
        held, _ = acls.rows.get((kind, schema, role, None), ([], None))
    else:
        row = acls.rows.get((kind, schema, role, None))
        # no relation of this kind that the role does not own: "all of them" holds vacuously
        held = row[0] if row is not None else list(s["privileges"])
    return {**s, "privileges": sorted(held)}
