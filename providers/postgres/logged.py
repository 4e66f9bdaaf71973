"""Every SQL statement the provider sends, logged to `ecpctl.postgres`: at INFO its command (the
leading keywords), database, duration and outcome (row count, or the error's SQLSTATE and class);
at DEBUG also its text and parameter names. The pool's connections use `LoggedCursor`, so no
statement escapes it. Passwords are composed into statements only as SCRAM verifiers; the CLI's
log handler scrubs them (`PASSWORD '...'`) with everything else it scrubs.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import psycopg

log = logging.getLogger("ecpctl.postgres")
DEBUG_TEXT_LIMIT = 2000
_COMMAND = re.compile(r"\s*((?:[A-Za-z]+\s+){0,2}[A-Za-z]+)")
_KEYWORDS = {"ROLE", "DATABASE", "SCHEMA", "EXTENSION", "OWNED", "DEFAULT", "PRIVILEGES", "TABLE",
             "FUNCTION", "SEQUENCE", "INDEX", "VIEW"}


def command_of(text: str) -> str:
    """`CREATE ROLE`, `ALTER DEFAULT PRIVILEGES`, `SELECT`: the statement's leading keywords."""
    m = _COMMAND.match(text)
    if not m:
        return "?"
    words = m.group(1).upper().split()
    out = words[:1]
    for w in words[1:]:
        if w not in _KEYWORDS:
            break
        out.append(w)
    return " ".join(out)


def statement_text(query: Any, conn: psycopg.Connection) -> str:
    if isinstance(query, (str, bytes)):
        return query if isinstance(query, str) else query.decode(errors="replace")
    try:
        return query.as_string(conn)
    except Exception:  # noqa: BLE001 - logging must never change what a statement does
        return repr(query)


class LoggedCursor(psycopg.Cursor):
    """A cursor that logs each execute with its duration and outcome (only when logging is on)."""

    def execute(self, query, params=None, **kw):  # type: ignore[override]
        if not log.isEnabledFor(logging.INFO):
            return super().execute(query, params, **kw)
        text = statement_text(query, self.connection)
        db = self.connection.info.dbname
        started = time.monotonic()
        try:
            result = super().execute(query, params, **kw)
        except psycopg.Error as exc:
            ms = (time.monotonic() - started) * 1000
            state = getattr(exc, "sqlstate", None) or "-"
            log.info("%s on %s -> %s %s in %.1f ms", command_of(text), db, exc.__class__.__name__,
                     state, ms)
            _debug(text, params)
            raise
        ms = (time.monotonic() - started) * 1000
        log.info("%s on %s -> %s rows in %.1f ms", command_of(text), db, self.rowcount, ms)
        _debug(text, params)
        return result


def _debug(text: str, params: Any) -> None:
    if log.isEnabledFor(logging.DEBUG):
        names = sorted(params) if isinstance(params, dict) else len(params or ())
        log.debug("SQL %s params=%s", " ".join(text.split())[:DEBUG_TEXT_LIMIT], names)
