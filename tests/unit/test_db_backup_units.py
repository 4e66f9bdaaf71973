"""Offline parts of `db backup` / `db restore`: reading pg_restore's listing, the archive check,
and the connection string that goes on pg_dump's command line (never the password)."""

from __future__ import annotations

import pytest

from ecpctl.kernel import ProviderError
from providers.postgres import dump


def test_listing_lines_are_read_with_multiword_descriptions():
    assert dump._parse_rest("TABLE DATA acme orders acme_app") == ("TABLE DATA", "acme", "orders")
    assert dump._parse_rest("TABLE acme orders acme_app") == ("TABLE", "acme", "orders")
    assert dump._parse_rest("SEQUENCE OWNED BY acme orders_id_seq acme_app") == (
        "SEQUENCE OWNED BY", "acme", "orders_id_seq")
    assert dump._parse_rest("EXTENSION - pgcrypto ") == ("EXTENSION", None, "pgcrypto")


def test_summary_counts_kinds():
    objs = [dump.DbObject("table", "a", "x"), dump.DbObject("table", "a", "y"),
            dump.DbObject("view", "a", "v")]
    assert dump.summary(objs) == "2 tables, 1 view"
    assert dump.summary([]) == "no tables"


def test_archive_check(tmp_path):
    good = tmp_path / "a.dump"
    good.write_bytes(b"PGDMP\x01\x0e")
    dump.check_archive(good)
    other = tmp_path / "b.sql"
    other.write_text("SELECT 1;")
    with pytest.raises(ProviderError, match="not a pg_dump custom-format archive"):
        dump.check_archive(other)


def test_the_command_line_never_carries_the_password():
    conn = dump.Connection({"dsnEnv": "X_DSN"},
                           environ={"X_DSN": "postgresql://admin:pa55-word@db.internal:6432/postgres"})
    info = conn.conninfo("acme")
    assert "pa55-word" not in info and "dbname=acme" in info and "port=6432" in info
    assert conn.env()["PGPASSWORD"] == "pa55-word"
    assert conn.scrub("failed for pa55-word") == "failed for ***"
