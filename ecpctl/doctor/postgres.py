"""Postgres preflight: the admin DSN connects, the server is 13 or newer, and the admin role may
create roles and databases (or is a superuser)."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from ecpctl.doctor.checks import Check, Status
from ecpctl.kernel import EcpctlError

TARGET = "postgres"
MIN_VERSION = 130000


def checks(settings: Mapping[str, Any] | None) -> list[Check]:
    import psycopg

    from providers.postgres.dump import Connection

    if settings is None:
        return [Check(TARGET, "Postgres", Status.SKIP, "not configured (spec.providers.postgres)")]
    try:
        conn = Connection(settings)
        admin_db = conn.params.get("dbname") or "postgres"
        with conn.connect(admin_db) as c:
            num = int(c.execute("SHOW server_version_num").fetchone()[0])
            version = c.execute("SHOW server_version").fetchone()[0]
            row = c.execute("SELECT current_user, rolsuper, rolcreaterole, rolcreatedb "
                            "FROM pg_roles WHERE rolname = current_user").fetchone()
    except EcpctlError as exc:
        return [Check(TARGET, "Postgres", Status.FAIL, str(exc),
                      "check the admin DSN (spec.providers.postgres.dsnEnv or dsnFile) and that "
                      "the server accepts connections")]
    except psycopg.Error as exc:
        return [Check(TARGET, "Postgres", Status.FAIL, conn.scrub(str(exc).splitlines()[0]))]
    host = conn.params.get("host", "localhost")
    out = [Check(TARGET, "Postgres version", Status.PASS if num >= MIN_VERSION else Status.FAIL,
                 f"{version} at {host} (needs 13 or newer)",
                 "" if num >= MIN_VERSION else "upgrade Postgres to 13 or newer")]
    user, superuser, createrole, createdb = row
    if superuser or (createrole and createdb):
        what = "superuser" if superuser else "CREATEROLE and CREATEDB"
        out.append(Check(TARGET, "Postgres admin role", Status.PASS, f"{user}: {what}"))
    else:
        lacks = [p for p, has in (("CREATEROLE", createrole), ("CREATEDB", createdb)) if not has]
        out.append(Check(TARGET, "Postgres admin role", Status.FAIL,
                         f"{user} lacks {' and '.join(lacks)}: it cannot make tenant roles and "
                         "databases", f"ALTER ROLE {user} {' '.join(lacks)} (as a superuser)"))
    return out
