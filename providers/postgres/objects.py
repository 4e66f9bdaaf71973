"""The shape of each resource type: which object an address names, and the desired attributes
normalized into the `observed` shape (what `read` returns), so that the two compare as equal data.

    role       name, login, connection_limit, inherit, config      (+ password, attributes only)
    database   name, owner, encoding, locale, connection_limit
    schema     database, name, owner
    grant      database, role, object_type, schema, for_role, privileges (explicit, sorted)
    extension  database, name, schema, version
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from providers.postgres import privileges as privs

TYPES = ("role", "database", "schema", "grant", "extension")

# changes Postgres cannot make in place (ALTER EXTENSION SET SCHEMA exists: extension schema is not)
REQUIRES_REPLACE: dict[str, tuple[str, ...]] = {
    "role": ("name",),
    "database": ("encoding", "locale", "name"),
    "schema": ("database", "name"),
    "grant": ("database", "for_role", "object_type", "role", "schema"),
    "extension": ("database", "name"),
}

_ENCODINGS = ["SQL_ASCII", "UTF8", "MULE_INTERNAL", "EUC_JP", "EUC_CN", "EUC_KR", "EUC_TW",
              "EUC_JIS_2004", "KOI8R", "KOI8U", "ISO_8859_5", "ISO_8859_6", "ISO_8859_7",
              "ISO_8859_8", *[f"LATIN{i}" for i in range(1, 11)],
              *[f"WIN{n}" for n in (866, 874, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258)]]
_ENCODING_KEYS = {"".join(ch for ch in e if ch.isalnum()): e for e in _ENCODINGS}
_ENCODING_KEYS["UNICODE"] = "UTF8"


def canonical_encoding(name: str) -> str:
    """`utf-8`, `UTF8` and `unicode` all name the encoding pg_encoding_to_char() calls UTF8."""
    key = "".join(ch for ch in str(name).upper() if ch.isalnum())
    return _ENCODING_KEYS.get(key, str(name).upper())


def grant_shape(attrs: Mapping[str, Any], server_version: int = 150000) -> dict[str, Any]:
    object_type = attrs["object_type"]
    return {
        "database": attrs["database"],
        "role": attrs["role"],
        "object_type": object_type,
        "schema": attrs.get("schema") if object_type != "database" else None,
        "for_role": attrs.get("for_role") if object_type in privs.DEFAULT_TYPES else None,
        "privileges": privs.normalize(object_type, attrs.get("privileges") or (), server_version),
    }


def desired_shape(rtype: str, attrs: Mapping[str, Any], *, server_version: int = 150000,
                  live: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The desired attributes as `read` would observe them once applied."""
    if rtype == "role":
        return {"name": attrs["name"], "login": bool(attrs.get("login", False)),
                "connection_limit": int(attrs.get("connection_limit", -1)),
                "inherit": bool(attrs.get("inherit", True)),
                "config": {str(k): str(v) for k, v in (attrs.get("config") or {}).items()}}
    if rtype == "database":
        return {"name": attrs["name"], "owner": attrs["owner"],
                "encoding": canonical_encoding(attrs.get("encoding") or "UTF8"),
                "locale": attrs.get("locale") or "C",
                "connection_limit": int(attrs.get("connection_limit", -1))}
    if rtype == "schema":
        return {"database": attrs["database"], "name": attrs["name"], "owner": attrs["owner"]}
    if rtype == "grant":
        return grant_shape(attrs, server_version)
    if rtype == "extension":
        version = attrs.get("version") or (live or {}).get("version")
        return {"database": attrs["database"], "name": attrs["name"], "schema": attrs["schema"],
                "version": version}
    raise ValueError(f"unknown postgres resource type {rtype!r} (known: {', '.join(TYPES)})")


def database_of(rtype: str, attrs: Mapping[str, Any]) -> str | None:
    """The database an object lives in (None: cluster-wide, read through the admin database)."""
    if rtype in ("schema", "extension"):
        return attrs["database"]
    if rtype == "grant" and attrs["object_type"] != "database":
        return attrs["database"]
    return None
