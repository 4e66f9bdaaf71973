"""Every statement the provider sends to change something, built only from `psycopg.sql` parts:
names through `sql.Identifier`, values through `sql.Literal`, keywords as constants of this module.

None of these statements takes bind parameters (DDL cannot), which is why literals are composed in;
a password is composed in only as a SCRAM verifier computed on the client, never in clear text.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

from psycopg import sql

from providers.postgres import privileges as privs

I = sql.Identifier  # noqa: E741 - reads as SQL does: I(name), L(value)
L = sql.Literal
S = sql.SQL


def _role_options(*, login: bool | None, inherit: bool | None, connection_limit: int | None,
                  password_verifier: str | None) -> list[sql.Composable]:
    opts: list[sql.Composable] = []
    if login is not None:
        opts.append(S("LOGIN") if login else S("NOLOGIN"))
    if inherit is not None:
        opts.append(S("INHERIT") if inherit else S("NOINHERIT"))
    if connection_limit is not None:
        opts.append(S("CONNECTION LIMIT {}").format(L(int(connection_limit))))
    if password_verifier is not None:
        opts.append(S("PASSWORD {}").format(L(password_verifier)))
    return opts


def create_role(name: str, *, login: bool, inherit: bool, connection_limit: int,
                password_verifier: str | None) -> sql.Composed:
    opts = _role_options(login=login, inherit=inherit, connection_limit=connection_limit,
                         password_verifier=password_verifier)
    return S("CREATE ROLE {} WITH {}").format(I(name), S(" ").join(opts))


def alter_role(name: str, *, login: bool | None = None, inherit: bool | None = None,
               connection_limit: int | None = None,
               password_verifier: str | None = None) -> sql.Composed | None:
    opts = _role_options(login=login, inherit=inherit, connection_limit=connection_limit,
                         password_verifier=password_verifier)
    if not opts:
        return None
    return S("ALTER ROLE {} WITH {}").format(I(name), S(" ").join(opts))


def _setting(key: str) -> sql.Identifier:
    # `app.tenant` is two identifiers; each part is quoted
    return I(*key.split("."))


def role_set(name: str, key: str, value: Any) -> sql.Composed:
    return S("ALTER ROLE {} SET {} TO {}").format(I(name), _setting(key), L(str(value)))


def role_reset(name: str, key: str) -> sql.Composed:
    return S("ALTER ROLE {} RESET {}").format(I(name), _setting(key))


def grant_membership(role: str, member: str) -> sql.Composed:
    return S("GRANT {} TO {}").format(I(role), I(member))


def reassign_owned(role: str, to: str) -> sql.Composed:
    return S("REASSIGN OWNED BY {} TO {}").format(I(role), I(to))


def drop_owned(role: str) -> sql.Composed:
    return S("DROP OWNED BY {}").format(I(role))


def drop_role(name: str) -> sql.Composed:
    return S("DROP ROLE IF EXISTS {}").format(I(name))


def create_database(name: str, *, owner: str, encoding: str, locale: str,
                    connection_limit: int) -> sql.Composed:
    # template0: the only template that accepts any encoding and locale
    return S("CREATE DATABASE {} WITH OWNER {} TEMPLATE template0 ENCODING {} LOCALE {} "
             "CONNECTION LIMIT {}").format(I(name), I(owner), L(encoding), L(locale),
                                           L(int(connection_limit)))


def alter_database_owner(name: str, owner: str) -> sql.Composed:
    return S("ALTER DATABASE {} OWNER TO {}").format(I(name), I(owner))


def alter_database_connection_limit(name: str, limit: int) -> sql.Composed:
    return S("ALTER DATABASE {} WITH CONNECTION LIMIT {}").format(I(name), L(int(limit)))


def alter_database_allow_connections(name: str, allow: bool) -> sql.Composed:
    return S("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(I(name), L(bool(allow)))


def revoke_database_from_public(name: str) -> sql.Composed:
    return S("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(I(name))


def drop_database(name: str) -> sql.Composed:
    return S("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(I(name))


def create_schema(name: str, owner: str) -> sql.Composed:
    return S("CREATE SCHEMA {} AUTHORIZATION {}").format(I(name), I(owner))


def alter_schema_owner(name: str, owner: str) -> sql.Composed:
    return S("ALTER SCHEMA {} OWNER TO {}").format(I(name), I(owner))


def drop_schema(name: str) -> sql.Composed:
    return S("DROP SCHEMA IF EXISTS {} CASCADE").format(I(name))


def create_extension(name: str, schema: str, version: str | None) -> sql.Composed:
    stmt = S("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}").format(I(name), I(schema))
    if version:
        stmt = S("{} VERSION {}").format(stmt, L(version))
    return stmt


def alter_extension_schema(name: str, schema: str) -> sql.Composed:
    return S("ALTER EXTENSION {} SET SCHEMA {}").format(I(name), I(schema))


def update_extension(name: str, version: str) -> sql.Composed:
    return S("ALTER EXTENSION {} UPDATE TO {}").format(I(name), L(version))


def drop_extension(name: str) -> sql.Composed:
    return S("DROP EXTENSION IF EXISTS {}").format(I(name))


def advisory_xact_lock(key: int) -> sql.Composed:
    return S("SELECT pg_catalog.pg_advisory_xact_lock({})").format(L(int(key)))


_ON = {"database": S("DATABASE"), "schema": S("SCHEMA"), "table": S("TABLE"),
       "sequence": S("SEQUENCE")}
_DEFAULT_ON = {"default_table": S("TABLES"), "default_sequence": S("SEQUENCES")}


def change_privileges(grant: bool, object_type: str, privileges: Iterable[str], *, role: str,
                      database: str | None = None, schema: str | None = None,
                      for_role: str | None = None,
                      relations: Iterable[str] = ()) -> sql.Composed:
    """GRANT (grant=True) or REVOKE `privileges` to/from `role` on one kind of object:
    the database, the schema, the listed relations of the schema, or default privileges."""
    keywords = privs.keywords(privileges)
    verb, prep = (S("GRANT"), S("TO")) if grant else (S("REVOKE"), S("FROM"))
    if object_type in _DEFAULT_ON:
        action = S("{} {} ON {} {} {}").format(verb, keywords, _DEFAULT_ON[object_type], prep, I(role))
        return S("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} {}").format(
            I(for_role), I(schema), action)
    if object_type == "database":
        target: sql.Composable = I(database)
    elif object_type == "schema":
        target = I(schema)
    else:
        names = [I(schema, r) for r in relations]
        if not names:
            raise ValueError("no relations to change privileges on")
        target = S(", ").join(names)
    return S("{} {} ON {} {} {} {}").format(verb, keywords, _ON[object_type], target, prep, I(role))

