"""Privileges as explicit sets: what each grant kind may hold, `ALL` expanded, one canonical order.

Postgres stores `GRANT ALL` as the explicit privileges of the object type, so a spec that says `ALL`
is expanded to that same set before comparing; comparisons are of sorted, de-duplicated lists.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql

# grant kinds: object_type -> (privileges on it in Postgres 15/16, what GRANT names the object as)
_TABLE = ("DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE")
_SEQUENCE = ("SELECT", "UPDATE", "USAGE")
OBJECT_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "database": ("CONNECT", "CREATE", "TEMPORARY"),
    "schema": ("CREATE", "USAGE"),
    "table": _TABLE,                 # every table, view and sequence-less relation in the schema
    "sequence": _SEQUENCE,           # every sequence in the schema
    "default_table": _TABLE,         # ALTER DEFAULT PRIVILEGES ... ON TABLES
    "default_sequence": _SEQUENCE,   # ALTER DEFAULT PRIVILEGES ... ON SEQUENCES
}
OBJECT_TYPES = tuple(OBJECT_PRIVILEGES)
SCHEMA_SCOPED = ("schema", "table", "sequence", "default_table", "default_sequence")
DEFAULT_TYPES = ("default_table", "default_sequence")
MAINTAIN_SINCE = 170000            # Postgres 17 added MAINTAIN on tables
ALIASES = {"TEMP": "TEMPORARY", "ALL PRIVILEGES": "ALL"}


class UnknownPrivilege(ValueError):
    pass


def allowed(object_type: str, server_version: int = 150000) -> tuple[str, ...]:
    privs = OBJECT_PRIVILEGES[object_type]
    if object_type in ("table", "default_table") and server_version >= MAINTAIN_SINCE:
        privs = tuple(sorted(privs + ("MAINTAIN",)))
    return privs


def normalize(object_type: str, privileges: Iterable[str], server_version: int = 150000) -> list[str]:
    """The explicit, sorted privilege set that `privileges` stands for; `ALL` expands."""
    valid = allowed(object_type, server_version)
    out: set[str] = set()
    for p in privileges:
        key = " ".join(str(p).upper().split())
        key = ALIASES.get(key, key)
        if key == "ALL":
            out.update(valid)
        elif key in valid:
            out.add(key)
        else:
            raise UnknownPrivilege(f"{p!r} is not a privilege on {object_type.replace('_', ' ')}s "
                                   f"(allowed: ALL, {', '.join(valid)})")
    return sorted(out)


def keywords(privileges: Iterable[str]) -> sql.Composable:
    """`SELECT, UPDATE` for GRANT/REVOKE. Only canonical names reach here (checked by normalize),
    so each keyword is a constant of this module, never caller text."""
    known = {p for privs in OBJECT_PRIVILEGES.values() for p in privs} | {"MAINTAIN"}
    parts = []
    for p in sorted(set(privileges)):
        if p not in known:
            raise UnknownPrivilege(f"{p!r} is not a privilege")
        parts.append(sql.SQL(p))
    return sql.SQL(", ").join(parts)
