"""A tenant's Postgres objects: an owner role, a login role for its services, database, schema,
explicit grants (including default privileges for future tables) and extensions."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlsplit

from ecpctl.expand.context import Builder, ExpandContext

PROVIDER = "postgres"

APP_DB_PRIVILEGES = ["CONNECT", "TEMPORARY"]
APP_SCHEMA_PRIVILEGES = ["CREATE", "USAGE"]
APP_TABLE_PRIVILEGES = ["DELETE", "INSERT", "SELECT", "UPDATE"]
APP_SEQUENCE_PRIVILEGES = ["SELECT", "UPDATE", "USAGE"]


def _settings(ctx: ExpandContext):
    return ctx.project.spec.providers.postgres


def service_endpoint(ctx: ExpandContext) -> tuple[str, int]:
    """Host and port the tenant's services use: explicit setting, else the DSN's host, else default."""
    s = _settings(ctx)
    host = getattr(s, "host", None) if s is not None else None
    port = 5432
    dsn_env = getattr(s, "dsnEnv", None) if s is not None else "ECPCTL_POSTGRES_DSN"
    dsn = os.environ.get(dsn_env or "", "")
    if dsn.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(dsn)
        host = host or parts.hostname
        port = parts.port or port
    elif dsn:
        kv = dict(p.split("=", 1) for p in dsn.split() if "=" in p)
        host = host or kv.get("host")
        port = int(kv.get("port", port))
    return host or "127.0.0.1", port


def names(ctx: ExpandContext, tid: str) -> dict[str, str]:
    s = _settings(ctx)
    role_pat = getattr(s, "rolePattern", "{tenant}_app") if s else "{tenant}_app"
    db_pat = getattr(s, "databasePattern", "{tenant}") if s else "{tenant}"
    schema_pat = getattr(s, "schemaPattern", "{tenant}") if s else "{tenant}"
    owner_pat = getattr(s, "ownerRolePattern", "{tenant}_owner") if s else "{tenant}_owner"
    return {"app": role_pat.format(tenant=tid), "owner": owner_pat.format(tenant=tid),
            "database": db_pat.format(tenant=tid), "schema": schema_pat.format(tenant=tid)}


def expand_postgres(b: Builder, ctx: ExpandContext, lt) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Returns the connection facts for the tenant's Secret and the addresses it depends on."""
    t = lt.tenant
    tid = t.metadata.name
    dbs = t.spec.database
    n = names(ctx, tid)
    owner = b.add(PROVIDER, "role", n["owner"], {
        "name": n["owner"], "login": False, "connection_limit": -1, "inherit": True, "config": {}})
    app_addr = b.address(PROVIDER, "role", n["app"])
    password = ctx.secrets.get(app_addr, "password")
    app = b.add(PROVIDER, "role", n["app"], {
        "name": n["app"], "login": True, "connection_limit": dbs.connectionLimit,
        "inherit": True, "config": {}, "password": password}, sensitive=("password",))
    database = b.add(PROVIDER, "database", n["database"], {
        "name": n["database"], "owner": n["owner"], "encoding": dbs.encoding,
        "locale": dbs.locale, "connection_limit": dbs.connectionLimit}, depends_on=(owner,))
    schema_names = [n["schema"], *[s for s in dbs.schemas if s != n["schema"]]]
    schema_addrs = []
    for sname in schema_names:
        schema_addrs.append(b.add(PROVIDER, "schema", sname, {
            "database": n["database"], "name": sname, "owner": n["owner"]},
            depends_on=(database, owner)))
    grant_deps = (database, app, owner)
    grants = [b.add(PROVIDER, "grant", "app-database", {
        "database": n["database"], "role": n["app"], "object_type": "database",
        "schema": None, "for_role": None, "privileges": APP_DB_PRIVILEGES}, depends_on=grant_deps)]
    for sname, saddr in zip(schema_names, schema_addrs):
        deps = grant_deps + (saddr,)
        suffix = "" if sname == n["schema"] else f"-{sname}"
        for kind, privs in (("schema", APP_SCHEMA_PRIVILEGES), ("table", APP_TABLE_PRIVILEGES),
                            ("sequence", APP_SEQUENCE_PRIVILEGES)):
            grants.append(b.add(PROVIDER, "grant", f"app-{kind}s{suffix}" if kind != "schema"
                                else f"app-schema{suffix}", {
                "database": n["database"], "role": n["app"], "object_type": kind,
                "schema": sname, "for_role": None, "privileges": privs}, depends_on=deps))
        for kind, privs in (("table", APP_TABLE_PRIVILEGES), ("sequence", APP_SEQUENCE_PRIVILEGES)):
            grants.append(b.add(PROVIDER, "grant", f"app-default-{kind}s{suffix}", {
                "database": n["database"], "role": n["app"], "object_type": f"default_{kind}",
                "schema": sname, "for_role": n["owner"], "privileges": privs}, depends_on=deps))
    for ext in dbs.extensions:
        b.add(PROVIDER, "extension", ext, {
            "database": n["database"], "name": ext, "schema": n["schema"], "version": None},
            depends_on=(database, schema_addrs[0]))

    host, port = service_endpoint(ctx)
    url = (f"postgresql://{quote(n['app'], safe='')}:{quote(password, safe='')}"
           f"@{host}:{port}/{quote(n['database'], safe='')}")
    facts = {"host": host, "port": port, "database": n["database"], "user": n["app"],
             "password": password, "url": url}
    return facts, (app, database, *grants)
