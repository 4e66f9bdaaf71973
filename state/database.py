"""One state database: its engine, the transaction rules of its backend, and error translation.

Every SQLAlchemy error is turned into a StateError here, at the store's edge, naming the database
by its masked URL: no traceback and no password ever reaches the user.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ecpctl.kernel import StateError
from state import models, urls
from state.statement_log import log_statements

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 10          # apply runs resources in parallel threads; each write borrows a connection
POOL_OVERFLOW = 20
SCHEMA_LOCK_KEY = 0x6563_7063_746C_0001   # pg_advisory_xact_lock key serializing CREATE TABLE only


class Database:
    """An engine plus the per-backend rules for read and write transactions."""

    def __init__(self, url: str, engine: Engine, *, readonly: bool = False):
        self.display_url = urls.mask(url)
        self._password = engine.url.password
        self.engine = engine
        self.readonly = readonly
        self.is_postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time; threads of one process queue here instead of spinning
        # on SQLITE_BUSY. An in-memory database is one shared connection, so reads queue too.
        self._write_lock = threading.RLock() if not self.is_postgres else None
        self._shared_conn = isinstance(engine.pool, StaticPool)
        log_statements(engine)

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None, data_dir: Path, *, readonly: bool = False) -> Database:
        """The database at `url` (None: SQLite at data_dir/state.db), its tables created.

        `readonly=True` creates nothing, anywhere: see `open_readonly`.
        """
        if readonly:
            return cls.open_readonly(url, data_dir)
        if url is None:
            data_dir = Path(data_dir)
            _private_dir(data_dir)
            url = urls.default_sqlite_url(data_dir)
        parsed = urls.parse(url)
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, parsed)
        else:
            engine = create_engine(parsed, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                                   pool_pre_ping=True, connect_args=_pg_args(parsed))
        db = cls(url, engine)
        try:
            db._create_schema()
        except BaseException:
            engine.dispose()
            raise
        return db

    @classmethod
    def open_readonly(cls, url: str | None, data_dir: Path) -> Database:
        """The database at `url` for reading only: no directory, file, table or row is created.

        A state that does not exist yet (no SQLite file, no tables in Postgres) reads as an empty
        one: an in-memory database with the schema and nothing in it. An existing SQLite file is
        opened so that SQLite leaves no side files behind (see `_sqlite_readonly_url`); Postgres
        sessions are read-only at the server. Writing through it is a programming error.
        """
        if url is None:
            url = urls.default_sqlite_url(Path(data_dir))
        parsed = urls.parse(url)
        if parsed.get_backend_name() == "sqlite":
            path = urls.sqlite_path(parsed)
            if path is None or not path.is_file():
                return cls._empty(url)
            engine = _sqlite_engine(url, _sqlite_readonly_url(parsed, path), readonly=True)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, connect_args=_pg_args(
                parsed, options="-c default_transaction_read_only=on"))
        db = cls(url, engine, readonly=True)
        try:
            if not db._has_schema():
                engine.dispose()
                return cls._empty(url)
            with db.read("open") as conn:
                db._check_version(conn)
        except BaseException:
            engine.dispose()
            raise
        return db

    @classmethod
    def _empty(cls, url: str) -> Database:
        """An empty state in memory, shown under the name of the database that does not exist yet."""
        engine = create_engine("sqlite://", poolclass=StaticPool,
                               connect_args={"check_same_thread": False})
        models.metadata.create_all(engine)
        return cls(url, engine, readonly=True)

    def _has_schema(self) -> bool:
        with self.translating("open"), self.engine.connect() as conn:
            return inspect(conn).has_table(models.meta.name)

    def _create_schema(self) -> None:
        with self.write("open") as conn:
            if self.is_postgres:   # two first runs at once must not both CREATE TABLE
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": signed64(SCHEMA_LOCK_KEY)})
            models.metadata.create_all(conn)
            if not self._check_version(conn):
                conn.execute(models.meta.insert().values(key="schema_version",
                                                         value=str(models.SCHEMA_VERSION)))

    def _check_version(self, conn: Connection) -> bool:
        """False when the database records no schema version yet; refuses a newer one."""
        found = conn.execute(select(models.meta.c.value)
                             .where(models.meta.c.key == "schema_version")).scalar()
        if found is not None and int(found) > models.SCHEMA_VERSION:
            raise StateError(f"state database {self.display_url} has schema version {found}, "
                             f"newer than this ecpctl reads ({models.SCHEMA_VERSION}); upgrade ecpctl")
        return found is not None

    def close(self) -> None:
        self.engine.dispose()

    # --- transactions ----------------------------------------------------------------------

    @contextmanager
    def write(self, what: str) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE on SQLite: no lock upgrade, no BUSY_SNAPSHOT)."""
        if self.readonly:
            raise StateError(f"{what}: state database {self.display_url} was opened read-only "
                             "(a read-only command tried to write; this is a bug in ecpctl)")
        with self._write_lock or nullcontext(), self.translating(what):
            with self.engine.connect() as conn:
                conn.execution_options(ecpctl_write=True)
                with conn.begin():
                    yield conn

    @contextmanager
    def read(self, what: str) -> Iterator[Connection]:
        """One read transaction: every query in it sees the same committed state."""
        lock = self._write_lock if self._shared_conn else None
        with lock or nullcontext(), self.translating(what):
            with self.engine.connect() as conn:
                if self.is_postgres:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn

    def dedicated_connection(self) -> Connection:
        """A connection of its own, outside the pool: closing it ends its server session."""
        with self.translating("lock"):
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.detach()
            return conn

    def insert(self, table):
        """INSERT with `on_conflict_do_*` for this backend."""
        # here, not at the top: the Postgres dialect (and asyncpg's, which it pulls in) costs
        # 25 ms of every command's start-up on the default SQLite backend
        if self.is_postgres:
            from sqlalchemy.dialects.postgresql import insert
        else:       # importing the package `sqlalchemy.dialects` with both names loads Postgres's too
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # --- errors ----------------------------------------------------------------------------

    @contextmanager
    def translating(self, what: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise self.error(what, exc) from exc

    def error(self, what: str, exc: SQLAlchemyError) -> StateError:
        reason = self._reason(exc)
        if _is_connect_failure(exc, reason):
            hint = _connect_hint(reason)
            return StateError(f"cannot open state database {self.display_url}: {reason}"
                              + (f"; {hint}" if hint else ""))
        if "database is locked" in reason:
            reason += " (another ecpctl kept the database busy; try again)"
        elif "malformed" in reason:
            reason += ("; the database file is damaged (truncated or overwritten?): restore a copy "
                       "of it, or move it aside and `ecpctl state push --force FILE` a document "
                       "saved by `ecpctl state pull`")
        elif "permission denied" in reason:
            reason += (" (the state URL's user must be able to create and write tables there: "
                       "grant it CREATE on the schema, or use the database owner)")
        return StateError(f"{what}: state database {self.display_url}: {reason}")

    def _reason(self, exc: SQLAlchemyError) -> str:
        orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        reason = " ".join(str(orig).split()) or type(orig).__name__
        if self._password:
            reason = reason.replace(self._password, "***")
        return urls.mask(reason)


# --- helpers ---------------------------------------------------------------------------------

_CONNECT_WORDS = ("unable to open database file", "connection failed", "could not connect",
                  "connection refused", "could not translate host name", "password authentication",
                  "no password supplied", "does not exist", "timeout expired", "file is not a database",
                  "no such host", "name or service not known", "authentication failed")

_HINTS = (
    (re.compile(r"password authentication failed|authentication failed|no password supplied"),
     "check the user name and password in the state URL (set by {settings})"),
    (re.compile(r'database "[^"]*" does not exist'),
     "check the database name at the end of the state URL (set by {settings}), or create that database"),
    (re.compile(r'role "[^"]*" does not exist'),
     "check the user name in the state URL (set by {settings})"),
    (re.compile(r"connection refused|could not translate host name|timeout expired|name or service "
                r"not known|no route to host|network is unreachable", re.IGNORECASE),
     "check the host and port in the state URL (set by {settings}) and that the server is running"),
)


def _is_connect_failure(exc: SQLAlchemyError, reason: str) -> bool:
    if getattr(exc, "connection_invalidated", False):
        return True
    low = reason.lower()
    return any(word in low for word in _CONNECT_WORDS) and "relation" not in low


def _connect_hint(reason: str) -> str:
    for pattern, hint in _HINTS:
        if pattern.search(reason):
            return hint.format(settings=urls.URL_SETTINGS)
    return ""


def _private_dir(path: Path) -> None:
    """The data directory holds state and secrets: owner only."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
    except OSError as exc:
        raise StateError(f"cannot create state directory {path}: {exc.strerror}") from exc


def _pg_args(parsed, **extra: str) -> dict:
    args: dict = {"application_name": "ecpctl", **extra}
    if "connect_timeout" not in parsed.query:
        args["connect_timeout"] = 10
    return args


def _sqlite_readonly_url(parsed: URL, path: Path) -> URL:
    """A URI that reads `path` without creating anything next to it.

    `mode=ro` alone makes SQLite create the -wal and -shm files of a WAL database and, being
    read-only, never remove them. When a -wal file exists, a writer is at work (or died) and its
    committed pages may be only there: read through it with `mode=ro`; the side files exist
    already. Without one, no writer is connected and the main file holds the whole state:
    `immutable=1` reads it with no locks and no side files. (A writer that starts during these few
    reads appends to its WAL; it copies pages back into the main file only at a checkpoint, after
    1,000 pages or when it closes, far later than a read of a few tables.)
    """
    wal = path.with_name(path.name + "-wal")
    mode = {"mode": "ro"} if wal.exists() else {"immutable": "1"}
    return parsed.set(database=f"file:{quote(str(path.resolve()))}", query={"uri": "true", **mode})


def _sqlite_engine(url: str, parsed, *, readonly: bool = False) -> Engine:
    path = urls.sqlite_path(parsed)
    if not readonly and path is not None and path.parent.is_dir() and not path.exists():
        try:   # created here so that it is 0600 from its first byte; SQLite copies the mode to -wal
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StateError(f"cannot open state database {urls.mask(url)}: {exc.strerror}") from exc
    kw = {}
    if path is None:
        kw["poolclass"] = StaticPool
    engine = create_engine(parsed, connect_args={"check_same_thread": False,
                                                 "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kw)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Transactions are begun by the "begin" hook below, not implicitly by the driver.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not readonly:   # journal_mode=WAL writes the file header
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        write = conn.get_execution_options().get("ecpctl_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def signed64(key: int) -> int:
    """Postgres advisory keys are signed 64-bit."""
    return key - (1 << 64) if key >= (1 << 63) else key
