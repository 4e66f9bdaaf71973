"""The postgres provider's offline parts: identifier rules, privilege sets, attribute shapes,
statement text, DSN settings and error translation (no server needed)."""

from __future__ import annotations

import psycopg
import pytest
from ecpctl.kernel import Address
from psycopg import sql

from ecpctl.kernel import ProviderNotConfigured
from providers.postgres import PostgresProvider, ddl, names, objects
from providers.postgres import privileges as privs
from providers.postgres.connection import (Scrubber, Settings, is_retryable, load_dsn, parse_dsn,
                                           translate)
from providers.postgres.operations import advisory_key
from providers.postgres.provider import resource_problems
from providers.protocol import ConfigureRequest, ValidateRequest
from ecpctl.kernel import Resource


def text(stmt: sql.Composable) -> str:
    return stmt.as_string(None)


# --- identifiers -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ['x"; DROP TABLE canary; --', "select", "Ünïcödé", "a" * 63,
                                  "한" * 21, "it's", "new\nline"])
def test_names_postgres_stores_verbatim_are_accepted(name):
    assert names.check_identifier(name, "name") == name


@pytest.mark.parametrize("name,message", [
    ("a" * 64, "64 bytes long"), ("한" * 22, "66 bytes long"), ("x\x00y", "NUL byte"),
    ("", "must not be empty"), (None, "must be a string"),
])
def test_names_postgres_would_mangle_are_rejected_on_one_line(name, message):
    with pytest.raises(names.InvalidIdentifier) as err:
        names.check_identifier(name, "owner")
    assert str(err.value).startswith("owner: ") and message in str(err.value)
    assert "\n" not in str(err.value) and "\x00" not in str(err.value)


def test_identifier_problems_cover_every_name_field_of_a_type():
    bad = "b" * 70
    found = {p.field for p in names.identifier_problems(
        "grant", {"database": bad, "role": bad, "schema": bad, "for_role": bad})}
    assert found == {"database", "role", "schema", "for_role"}
    assert not list(names.identifier_problems("grant", {"database": "d", "role": "r",
                                                        "schema": None, "for_role": None}))


# --- privileges ------------------------------------------------------------------------------

def test_all_expands_to_the_explicit_set_of_the_object_type():
    assert privs.normalize("database", ["ALL"]) == ["CONNECT", "CREATE", "TEMPORARY"]
    assert privs.normalize("table", ["all privileges"]) == [
        "DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]
    assert "MAINTAIN" in privs.normalize("default_table", ["ALL"], 170000)
    assert privs.normalize("sequence", ["usage", "SELECT", "select"]) == ["SELECT", "USAGE"]
    assert privs.normalize("database", ["temp", "connect"]) == ["CONNECT", "TEMPORARY"]


def test_unknown_privileges_are_refused():
    with pytest.raises(privs.UnknownPrivilege, match="'EXECUTE' is not a privilege on schemas"):
        privs.normalize("schema", ["EXECUTE"])
    with pytest.raises(privs.UnknownPrivilege):
        privs.keywords(["SELECT; DROP TABLE x"])


# --- shapes ----------------------------------------------------------------------------------

def test_desired_shape_is_the_observed_shape():
    role = objects.desired_shape("role", {"name": "r", "login": True, "connection_limit": 5,
                                          "inherit": True, "config": {"work_mem": 64},
                                          "password": "secret"})
    assert role == {"name": "r", "login": True, "connection_limit": 5, "inherit": True,
                    "config": {"work_mem": "64"}}
    db = objects.desired_shape("database", {"name": "d", "owner": "o", "encoding": "utf-8",
                                            "locale": "C.UTF-8", "connection_limit": 50})
    assert db["encoding"] == "UTF8"
    grant = objects.desired_shape("grant", {"database": "d", "role": "r", "object_type": "database",
                                            "schema": "ignored", "for_role": "ignored",
                                            "privileges": ["ALL"]})
    assert grant["schema"] is None and grant["for_role"] is None
    ext = objects.desired_shape("extension", {"database": "d", "name": "pgcrypto", "schema": "s",
                                              "version": None}, live={"version": "1.3"})
    assert ext["version"] == "1.3"


@pytest.mark.parametrize("given,canonical", [("UTF8", "UTF8"), ("utf-8", "UTF8"),
                                             ("unicode", "UTF8"), ("euc_kr", "EUC_KR"),
                                             ("latin1", "LATIN1"), ("SQL_ASCII", "SQL_ASCII")])
def test_encoding_names_are_canonical(given, canonical):
    assert objects.canonical_encoding(given) == canonical


def test_requires_replace_is_static_and_keeps_extensions_in_place():
    assert PostgresProvider.requires_replace("database") == ("encoding", "locale", "name")
    assert PostgresProvider.requires_replace("schema") == ("database", "name")
    assert "schema" not in PostgresProvider.requires_replace("extension")
    assert PostgresProvider.requires_replace("role") == ("name",)


# --- statements ------------------------------------------------------------------------------

def test_statements_quote_every_name_and_literal():
    evil = 'x"; DROP TABLE canary; --'
    assert text(ddl.create_schema(evil, "o")) == \
        'CREATE SCHEMA "x""; DROP TABLE canary; --" AUTHORIZATION "o"'
    assert text(ddl.create_database("d", owner="o", encoding="UTF8", locale="C'; --",
                                    connection_limit=5)) == (
        'CREATE DATABASE "d" WITH OWNER "o" TEMPLATE template0 ENCODING \'UTF8\' '
        "LOCALE 'C''; --' CONNECTION LIMIT 5")
    assert text(ddl.role_set("r", "app.tenant", "a'b")) == \
        'ALTER ROLE "r" SET "app"."tenant" TO \'a\'\'b\''
    assert text(ddl.drop_database("d")) == 'DROP DATABASE IF EXISTS "d" WITH (FORCE)'


def test_privilege_statements_for_each_grant_kind():
    g = ddl.change_privileges
    assert text(g(True, "database", ["CONNECT"], role="r", database="d")) == \
        'GRANT CONNECT ON DATABASE "d" TO "r"'
    assert text(g(False, "table", ["TRUNCATE", "DELETE"], role="r", schema="s",
                  relations=["t1", "t 2"])) == \
        'REVOKE DELETE, TRUNCATE ON TABLE "s"."t1", "s"."t 2" FROM "r"'
    assert text(g(True, "default_sequence", ["USAGE"], role="r", schema="s", for_role="o")) == \
        'ALTER DEFAULT PRIVILEGES FOR ROLE "o" IN SCHEMA "s" GRANT USAGE ON SEQUENCES TO "r"'
    with pytest.raises(ValueError):
        g(True, "table", ["SELECT"], role="r", schema="s", relations=[])


def test_role_statement_carries_only_a_verifier():
    stmt = text(ddl.create_role("r", login=True, inherit=True, connection_limit=3,
                                password_verifier="SCRAM-SHA-256$4096:abc"))
    assert stmt == ("CREATE ROLE \"r\" WITH LOGIN INHERIT CONNECTION LIMIT 3 "
                    "PASSWORD 'SCRAM-SHA-256$4096:abc'")
    assert ddl.alter_role("r") is None


def test_advisory_keys_are_stable_signed_64_bit():
    k = advisory_key(("schema", "db", "s"))
    assert k == advisory_key(("schema", "db", "s")) != advisory_key(("schema", "db", "t"))
    assert -2 ** 63 <= k < 2 ** 63


# --- settings and errors ---------------------------------------------------------------------

def test_dsn_comes_from_the_env_var_or_the_file(tmp_path):
    s = Settings.from_mapping({})
    assert s.dsn_env == "ECPCTL_POSTGRES_DSN"
    assert load_dsn(s, {"ECPCTL_POSTGRES_DSN": " host=h \n"}) == "host=h"
    with pytest.raises(ProviderNotConfigured, match="ECPCTL_POSTGRES_DSN is not set"):
        load_dsn(s, {})
    f = tmp_path / "dsn"
    f.write_text("postgresql://u@h/db\n")
    assert load_dsn(Settings.from_mapping({"dsnFile": str(f)}), {}) == "postgresql://u@h/db"
    f.write_text("")
    with pytest.raises(ProviderNotConfigured, match="is empty"):
        load_dsn(Settings.from_mapping({"dsnFile": str(f)}), {})


def test_malformed_dsn_message_does_not_echo_it():
    with pytest.raises(ProviderNotConfigured) as err:
        parse_dsn("host=h password=hunter2hunter2 junk", Settings())
    assert "hunter2" not in str(err.value) and "providers.postgres.dsnEnv" in str(err.value)


def test_configure_without_dsn_is_a_diagnostic(monkeypatch):
    monkeypatch.delenv("ECPCTL_POSTGRES_DSN", raising=False)
    resp = PostgresProvider().configure(ConfigureRequest(settings={}, options={}))
    assert [d.severity.value for d in resp.diagnostics] == ["error"]


def test_scrubber_hides_known_secrets():
    s = Scrubber()
    s.add("hunter2hunter2")
    s.add("ab")                                 # too short to be a secret worth replacing
    assert s("auth failed for hunter2hunter2 ab") == "auth failed for *** ab"


def test_translation_separates_retryable_from_permanent():
    scrub = Scrubber()
    scrub.add("topsecret-pass")
    denied = translate(psycopg.errors.InsufficientPrivilege("permission denied to create role"),
                       op="CREATE ROLE", needs="CREATEROLE", scrub=scrub)
    assert denied.reason == "CREATE ROLE: permission denied to create role: the admin role needs CREATEROLE"
    assert not denied.retryable
    assert translate(psycopg.errors.AdminShutdown("terminating connection"), op="GRANT",
                     scrub=scrub).retryable
    assert translate(psycopg.OperationalError("server closed the connection\nunexpectedly"),
                     op="GRANT", scrub=scrub).retryable
    assert translate(psycopg.errors.InternalError_("tuple concurrently updated"), op="GRANT",
                     scrub=scrub).retryable
    dup = translate(psycopg.errors.DuplicateObject("role x exists; pw topsecret-pass"),
                    op="CREATE ROLE", scrub=scrub)
    assert not dup.retryable and "SQLSTATE 42710" in dup.reason and "topsecret" not in dup.reason
    assert not is_retryable(psycopg.errors.SyntaxError("x"))


def test_validate_names_the_address_and_the_field():
    r = Resource(addr=Address("t", "postgres", "database", "d"), attributes={"name": "d" * 64, "owner": "o",
                                                   "connection_limit": "many"})
    diags = PostgresProvider().validate(ValidateRequest(resources=[r])).diagnostics
    lines = sorted(d.one_line() for d in diags)
    assert lines[0].startswith("tenant.t.postgres.database.d: connection_limit: must be a whole")
    assert lines[1].startswith("tenant.t.postgres.database.d: name: identifier 'ddd")


def test_resource_problems_for_grants():
    ok = {"database": "d", "role": "r", "object_type": "default_table", "schema": "s",
          "for_role": "o", "privileges": ["SELECT"]}
    assert resource_problems("grant", ok) == []
    assert resource_problems("grant", {**ok, "for_role": None}) == [
        "for_role: default privileges need the role whose future objects they cover"]
    assert resource_problems("widget", {}) == [
        "type: unknown postgres resource type 'widget' (known: role, database, schema, grant, extension)"]
