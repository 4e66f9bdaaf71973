"""Every SQL statement of the state store, logged to `ecpctl.state` through SQLAlchemy's cursor
events: at INFO its command, backend, duration and outcome (row count, or the DBAPI error's class),
at DEBUG its text. Parameters are never logged: without a state key they hold sensitive values
in clear."""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine, event

log = logging.getLogger("ecpctl.state")
DEBUG_TEXT_LIMIT = 2000
_STARTED = "ecpctl_statement_started"


def _command(statement: str) -> str:
    words = statement.split(None, 2)
    return " ".join(words[:1]).upper() or "?"


def log_statements(engine: Engine) -> None:
    """Attach the listeners (they cost one level check per statement while logging is off)."""
    backend = engine.dialect.name

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        if log.isEnabledFor(logging.INFO):
            conn.info.setdefault(_STARTED, []).append(time.monotonic())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        starts = conn.info.get(_STARTED)
        if not starts:
            return
        ms = (time.monotonic() - starts.pop()) * 1000
        log.info("%s on %s -> %s rows in %.1f ms", _command(statement), backend,
                 getattr(cursor, "rowcount", -1), ms)
        log.debug("SQL %s", " ".join(statement.split())[:DEBUG_TEXT_LIMIT])

    @event.listens_for(engine, "handle_error")
    def _error(ctx):
        conn = ctx.connection
        starts = conn.info.get(_STARTED) if conn is not None else None
        if not starts:
            return
        ms = (time.monotonic() - starts.pop()) * 1000
        log.info("%s on %s -> %s in %.1f ms", _command(ctx.statement or ""), backend,
                 ctx.original_exception.__class__.__name__, ms)
        log.debug("SQL %s", " ".join((ctx.statement or "").split())[:DEBUG_TEXT_LIMIT])
