"""Where the admin DSN comes from, a small connection pool per database, and the translation of
psycopg's errors into the kernel's typed errors at the provider's edge (`translate`,
`connect_error`: the most specific type for the SQLSTATE wins, retryable or permanent by type).

The DSN is read from an environment variable or a file named in the Project file, never from the
command line (where `ps` and shell history would show it). Nothing here ever formats the DSN or a
password into a message: every message passes through `Scrubber` as well, as a second guard.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from collections.abc import Callable, Mapping

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import errors as pg_errors

from ecpctl.kernel import durations
from ecpctl.kernel import (Conflict, Forbidden, InUse, Invalid, NotFound, ProviderError,
                           ProviderNotConfigured, ServerError, Throttled, Timeout, Unreachable,
                           scrub as kernel_scrub)
from providers.postgres.logged import LoggedCursor

T = TypeVar("T")

DEFAULT_DSN_ENV = "ECPCTL_POSTGRES_DSN"
DEFAULT_POOL_SIZE = 10            # matches apply's default parallelism
CONNECT_TIMEOUT_MS = 10_000       # per connection attempt (libpq's connect_timeout)
STATEMENT_TIMEOUT_MS = 60_000     # per statement, on every session ecpctl opens
LOCK_TIMEOUT_MS = 10_000          # per wait for a lock another session holds
CONNECT_TIMEOUT = CONNECT_TIMEOUT_MS // 1000   # seconds, for callers that connect on their own
ACQUIRE_TIMEOUT = 120.0           # seconds to wait for a free pooled connection
APPLICATION_NAME = "ecpctl"


@dataclass(frozen=True)
class Settings:
    """The Project file's `spec.providers.postgres` block, as the provider uses it."""

    dsn_env: str = DEFAULT_DSN_ENV
    dsn_file: str | None = None
    admin_role: str | None = None
    pool_size: int = DEFAULT_POOL_SIZE
    connect_timeout_ms: int = CONNECT_TIMEOUT_MS
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
    lock_timeout_ms: int = LOCK_TIMEOUT_MS

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any], options: Mapping[str, Any] | None = None
                     ) -> Settings:
        opts = options or {}
        return cls(dsn_env=settings.get("dsnEnv") or DEFAULT_DSN_ENV,
                   dsn_file=settings.get("dsnFile") or None,
                   admin_role=settings.get("adminRole") or None,
                   pool_size=int(opts.get("pool_size") or DEFAULT_POOL_SIZE),
                   connect_timeout_ms=_ms(settings.get("connectTimeout"), CONNECT_TIMEOUT_MS),
                   statement_timeout_ms=_ms(settings.get("statementTimeout"), STATEMENT_TIMEOUT_MS),
                   lock_timeout_ms=_ms(settings.get("lockTimeout"), LOCK_TIMEOUT_MS))

    def session_params(self) -> dict[str, str]:
        """libpq parameters that give every session its deadlines: set at connect time, so no
        statement (not even the first catalog read) runs without them."""
        # libpq takes whole seconds and treats 0 as "wait forever": never below one second
        connect = max(1, -(-self.connect_timeout_ms // 1000))
        return {"connect_timeout": str(connect),
                "options": f"-c statement_timeout={self.statement_timeout_ms} "
                           f"-c lock_timeout={self.lock_timeout_ms}"}
    @property
    def lock_timeout(self) -> str:
        return durations.format_duration(self.lock_timeout_ms)

    @property
    def source(self) -> str:
        """Which setting the DSN came from, for messages that tell the user what to fix."""
        if self.dsn_file:
            return f"the DSN file {self.dsn_file} (providers.postgres.dsnFile)"
        return f"the DSN in ${self.dsn_env} (providers.postgres.dsnEnv)"


def _ms(value: Any, default: int) -> int:
    """A Project duration (`10s`; an int of milliseconds from code) as milliseconds."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        return value
    return durations.parse_duration(value)


def load_dsn(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    if settings.dsn_file:
        path = Path(settings.dsn_file).expanduser()
        try:
            dsn = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ProviderNotConfigured(
                f"cannot read the Postgres DSN file {path} (providers.postgres.dsnFile): "
                f"{exc.strerror or exc.__class__.__name__}") from None
        if not dsn:
            raise ProviderNotConfigured(f"the Postgres DSN file {path} (providers.postgres.dsnFile) "
                                        "is empty")
        return dsn
    dsn = env.get(settings.dsn_env, "").strip()
    if not dsn:
        raise ProviderNotConfigured(
            f"environment variable {settings.dsn_env} is not set: export the admin DSN in it, or "
            "name another variable (providers.postgres.dsnEnv) or a file (providers.postgres.dsnFile) "
            "in the Project file")
    return dsn


def parse_dsn(dsn: str, settings: Settings) -> dict[str, Any]:
    try:
        params = pg_conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        # psycopg's message can quote a fragment of the string, which may hold the password
        raise ProviderNotConfigured(
            f"{settings.source} is not a valid Postgres connection string (expected key=value "
            "pairs or a postgresql://user@host:port/dbname URL)") from None
    return {k: v for k, v in params.items() if v is not None}


class Scrubber:
    """Removes known secrets (the DSN's password, role passwords handled) from any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: Any) -> None:
        if isinstance(secret, str) and len(secret) >= 4:
            kernel_scrub.remember(secret)          # logs and crash files are scrubbed of it too
            with self._lock:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for s in secrets:
            text = text.replace(s, "***")
        return text


def one_line(text: str) -> str:
    """psycopg's connection errors span lines (one per host tried, plus hints): join them."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return "; ".join(parts)


# --- error translation -----------------------------------------------------------------------

# SQLSTATE (or its two-character class) -> the kernel's type; the longest match wins
_BY_STATE: dict[str, type[ProviderError]] = {
    "08": Unreachable,           # connection exception
    "28": Forbidden,             # invalid authorization
    "42501": Forbidden,          # insufficient privilege
    "3D000": NotFound,           # database does not exist
    "3F000": NotFound,           # schema does not exist
    "42704": NotFound,           # undefined object (role, extension, ...)
    "42P01": NotFound,           # undefined table
    "42883": NotFound,           # undefined function
    "58P01": NotFound,           # undefined file (an extension not installed on the server)
    "23": Conflict,              # integrity constraint violation
    "2BP01": Conflict,           # dependent objects still exist
    "42710": Conflict,           # duplicate object
    "42P04": Conflict,           # duplicate database
    "42P06": Conflict,           # duplicate schema
    "55006": InUse,              # object in use by another session
    "55P03": Timeout,            # lock not available
    "57014": Timeout,            # query canceled (statement_timeout)
    "40": ServerError,           # serialization failure, deadlock: aborted for another session
    "53": ServerError,           # insufficient resources
    "53300": Throttled,          # too many connections
    "57P01": Unreachable,        # admin shutdown
    "57P02": Unreachable,        # crash shutdown
    "57P03": Unreachable,        # cannot connect now (starting up)
    "XX": ServerError,           # internal error
    "22": Invalid,               # data exception
    "42": Invalid,               # syntax error or access rule violation
    "0A": Invalid,               # feature not supported
    "2F": Invalid,               # SQL routine exception
}
# catalog rows changed or dropped under a statement by concurrent DDL: safe to try again
_CONCURRENT_DDL = ("tuple concurrently updated", "could not open relation with OID",
                   "cache lookup failed")


def error_class(exc: BaseException) -> type[ProviderError]:
    """The kernel's type for a psycopg error: by SQLSTATE, then by what the client saw."""
    state = getattr(exc, "sqlstate", None) or ""
    if any(s in str(exc) for s in _CONCURRENT_DDL):
        return ServerError
    if state:
        return _BY_STATE.get(state) or _BY_STATE.get(state[:2]) or ProviderError
    if isinstance(exc, psycopg.errors.ConnectionTimeout) or "timeout expired" in str(exc):
        return Timeout
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return Unreachable                             # the client lost or never had a connection
    return ProviderError


def is_retryable(exc: BaseException) -> bool:
    return error_class(exc).retryable


def translate(exc: BaseException, *, op: str, scrub: Callable[[str], str],
              needs: str | None = None, address: str | None = None) -> ProviderError:
    """The edge: one typed ProviderError, one line, no secret, for any psycopg error raised by
    `op`. Raise it `from` the psycopg error."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) or one_line(str(exc)) or exc.__class__.__name__
    state = getattr(exc, "sqlstate", None)
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        msg = f"{op}: {primary}"
        if needs:
            msg += f": the admin role needs {needs}"
        else:
            hint = getattr(diag, "message_hint", None)
            if hint and "\n" not in hint:
                msg += f" ({hint.rstrip('.')})"
    else:
        msg = f"{op}: {primary}" + (f" (SQLSTATE {state})" if state else "")
    return error_class(exc)(scrub(one_line(msg)), address=address)


# Who holds a lock a statement of ours gave up waiting for. Our statement no longer waits, so
# pg_blocking_pids() cannot name the holder: the candidates are the other client sessions holding a
# lock stronger than a read on a table of this database or on a shared catalog (roles, databases),
# those idle in an open transaction first, then the oldest transaction.
_HOLDERS = """
SELECT a.pid, a.usename, a.application_name, a.state,
       CASE WHEN l.locktype = 'relation' THEN l.relation::regclass::text
            WHEN l.locktype = 'object' THEN l.classid::regclass::text END AS object,
       extract(epoch FROM now() - a.xact_start)::int AS seconds
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.granted AND l.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
   AND l.locktype IN ('relation', 'object') AND l.mode <> 'AccessShareLock'
   AND (l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        OR l.database = 0)
 ORDER BY a.state = 'idle in transaction' DESC, a.xact_start, a.pid
"""


def lock_holders(conn: psycopg.Connection) -> str:
    """One phrase naming the session(s) holding the locks our statement waited for, or ''."""
    rows = conn.execute(_HOLDERS).fetchall()
    seen: dict[int, tuple] = {}
    for row in rows:
        seen.setdefault(row[0], row)
    if not seen:
        return ""
    pid, user, app, state, obj, secs = next(iter(seen.values()))
    text = (f"held by session pid {pid} (user {user!r}, application {app or '-'!r}, {state}"
            + (f" for {secs}s" if secs is not None else "") + ")"
            + (f" on {obj}" if obj else ""))
    if len(seen) > 1:
        text += f" and {len(seen) - 1} other session(s)"
    return text


def lock_timeout_error(exc: BaseException, *, op: str, what: str, settings: Settings,
                       holders: str, scrub: Callable[[str], str]) -> Timeout:
    """SQLSTATE 55P03 as one line: the statement, the object, the wait and who holds the lock."""
    subject = f"{op} {what}" if what else op
    msg = (f"{subject}: gave up after waiting {settings.lock_timeout} (providers.postgres."
           f"lockTimeout) for a lock " + (holders or "held by another session")
           + " (SQLSTATE 55P03)")
    return Timeout(scrub(one_line(msg)))


class DatabaseMissing(NotFound):
    """A connection to a tenant database that does not exist (any more)."""


def connect_error(exc: BaseException, settings: Settings, scrub: Callable[[str], str],
                  dbname: str, admin_db: str) -> ProviderError:
    """A failed connection names the setting to fix; the server's reason is kept, the DSN is not."""
    reason = scrub(one_line(str(exc)))
    reason = reason.removeprefix("connection failed: ")
    lower = reason.lower()
    if dbname != admin_db and f'database "{dbname.lower()}" does not exist' in lower:
        return DatabaseMissing(f"database {dbname!r} does not exist")
    # a refused or lost connection may heal (a restarting server); bad credentials never do
    cls: type[ProviderError]
    if any(s in lower for s in ("authentication failed", "no password supplied",
                                "no pg_hba.conf entry", "permission denied")):
        cls = Forbidden
    elif "does not exist" in lower:
        cls = NotFound
    elif getattr(exc, "sqlstate", None):
        cls = error_class(exc)
    elif "timeout expired" in lower:
        cls = Timeout
    elif isinstance(exc, psycopg.OperationalError):
        cls = Unreachable
    else:
        cls = ProviderError
    return cls(f"cannot connect to Postgres (database {dbname!r}) with {settings.source}: {reason}")


# --- pool ------------------------------------------------------------------------------------

class Pool:
    """At most `max_size` open connections over all databases, idle ones kept per database.

    Connections are in autocommit mode: statements that must not run in a transaction (CREATE
    DATABASE, DROP DATABASE) just run, and everything else opens `conn.transaction()` explicitly.
    """

    def __init__(self, params: Mapping[str, Any], settings: Settings, scrub: Callable[[str], str],
                 max_size: int = DEFAULT_POOL_SIZE):
        self._params = dict(params)
        self._settings = settings
        self._scrub = scrub
        self._slots = threading.BoundedSemaphore(max_size)
        self._lock = threading.Lock()
        self._idle: list[tuple[str, psycopg.Connection]] = []    # oldest first
        self._open = 0
        self._max = max_size
        self.connects = 0

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def admin_db(self) -> str:
        return self._params.get("dbname") or "postgres"

    def connect(self, dbname: str) -> psycopg.Connection:
        params = {**self._params, "dbname": dbname}
        params.setdefault("application_name", APPLICATION_NAME)
        session = self._settings.session_params()
        params.setdefault("connect_timeout", session["connect_timeout"])
        # the DSN's own options (search_path, ...) are kept; ours come last and win
        params["options"] = " ".join(filter(None, (params.get("options"), session["options"])))
        try:
            conn = psycopg.connect(pg_conninfo.make_conninfo(**params), autocommit=True,
                                   cursor_factory=LoggedCursor)
        except psycopg.Error as exc:
            raise connect_error(exc, self._settings, self._scrub, dbname, self.admin_db) from None
        self.connects += 1
        return conn

    def run(self, dbname: str, fn: Callable[[psycopg.Connection], T]) -> T:
        """fn(conn) on a connection to `dbname`. A pooled connection found dead (the server
        restarted since it was last used) is replaced and fn run once more, so fn must be safe to
        run again: every caller reads the catalog before it changes anything."""
        if not self._slots.acquire(timeout=ACQUIRE_TIMEOUT):
            raise Timeout("timed out waiting for a free Postgres connection")
        try:
            conn, reused = self._checkout(dbname)
            try:
                return fn(conn)
            except psycopg.OperationalError:
                if not (reused and conn.broken):
                    raise
            finally:
                self._checkin(dbname, conn)           # closes and forgets a broken connection
            conn = self._fresh(dbname)
            try:
                return fn(conn)
            finally:
                self._checkin(dbname, conn)
        finally:
            self._slots.release()

    def forget(self, dbname: str) -> None:
        """Close idle connections to `dbname` (before it is dropped)."""
        with self._lock:
            mine = [c for d, c in self._idle if d == dbname]
            self._idle = [(d, c) for d, c in self._idle if d != dbname]
            self._open -= len(mine)
        for c in mine:
            _close_quietly(c)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for _, c in idle:
            _close_quietly(c)

    # internals: a slot is held by the caller of each of these

    def _checkout(self, dbname: str) -> tuple[psycopg.Connection, bool]:
        with self._lock:
            for i in range(len(self._idle) - 1, -1, -1):
                if self._idle[i][0] == dbname:
                    conn = self._idle.pop(i)[1]
                    if not conn.closed:
                        return conn, True
                    self._open -= 1
        return self._fresh(dbname), False

    def _fresh(self, dbname: str) -> psycopg.Connection:
        victim = None
        with self._lock:
            if self._open >= self._max and self._idle:
                victim = self._idle.pop(0)[1]          # the least recently used other database
                self._open -= 1
            self._open += 1
        if victim is not None:
            _close_quietly(victim)
        try:
            return self.connect(dbname)
        except BaseException:
            with self._lock:
                self._open -= 1
            raise

    def _checkin(self, dbname: str, conn: psycopg.Connection) -> None:
        if conn.closed or conn.broken:
            self._discard(conn)
            return
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
        except psycopg.Error:
            self._discard(conn)
            return
        with self._lock:
            self._idle.append((dbname, conn))

    def _discard(self, conn: psycopg.Connection) -> None:
        with self._lock:
            self._open -= 1
        _close_quietly(conn)


def _close_quietly(conn: psycopg.Connection) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone either way
        pass
