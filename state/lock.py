"""Workspace locks: one row per workspace in `locks`, taken by an INSERT that loses on conflict.

On Postgres the holder also keeps `pg_try_advisory_lock(key of the workspace)` on a connection of
its own for as long as it holds the lock, so a holder that crashed frees the advisory lock with its
session: a row without an advisory lock behind it belongs to a dead holder. On SQLite a holder on
this host whose pid no longer runs is dead. A dead holder's lock is reported, never taken over:
only `force-unlock` removes it.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select, text

from ecpctl.kernel import LockError, StateError
from state import models
from state.database import Database, signed64
from state.records import LockInfo, utcnow

_POLL_FIRST, _POLL_MAX = 0.05, 0.5


def this_host() -> str:
    return socket.gethostname()


def this_user() -> str:
    try:
        return getpass.getuser()
    except Exception:   # no login name (container without passwd entry)
        return str(os.getuid())


def advisory_key(workspace: str) -> int:
    """A per-workspace key: locking one workspace never blocks another."""
    digest = hashlib.sha256(f"ecpctl-state-lock:{workspace}".encode()).digest()
    return signed64(int.from_bytes(digest[:8], "big"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a killed child that nobody reaped yet is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class _Busy:
    holder: LockInfo | None   # None: released between our INSERT and our look (try again)
    dead: bool


class Locker:
    """Takes and releases the locks of one store; remembers the advisory sessions it holds."""

    def __init__(self, db: Database):
        self._db = db
        # lock id -> the connection holding its advisory lock (None on SQLite), for every lock
        # this store took and did not release yet
        self._held: dict[str, Connection | None] = {}
        self._mutex = threading.Lock()

    def acquire(self, workspace: str, operation: str, timeout: float) -> LockInfo:
        deadline = time.monotonic() + max(timeout, 0.0)
        delay = _POLL_FIRST
        while True:
            outcome = self._try(workspace, operation)
            if isinstance(outcome, LockInfo):
                return outcome
            if outcome.holder is not None:
                if outcome.dead:
                    raise LockError(held_message(outcome.holder, dead=True))
                if time.monotonic() >= deadline:
                    waited = f"timed out after {timeout:g}s waiting for the lock: " if timeout > 0 else ""
                    raise LockError(waited + held_message(outcome.holder, dead=False))
            elif time.monotonic() >= deadline and self._db.is_postgres:
                raise LockError(
                    f"state of workspace {workspace} is locked by a session that left no lock record "
                    "(force-unlocked while its ecpctl still runs?); wait for it to finish")
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())) or _POLL_FIRST / 5)
            delay = min(delay * 2, _POLL_MAX)

    def _try(self, workspace: str, operation: str) -> LockInfo | _Busy:
        host = this_host()
        info = LockInfo(id=str(uuid.uuid4()), workspace=workspace, holder=f"{this_user()}@{host}",
                        host=host, pid=os.getpid(), operation=operation, created_at=utcnow())
        session = None
        if self._db.is_postgres:
            session = self._db.dedicated_connection()
            try:
                with self._db.translating("lock"):
                    got = session.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                          {"k": advisory_key(workspace)}).scalar()
            except BaseException:
                session.close()
                raise
            if not got:
                session.close()
                return _Busy(self.current(workspace), dead=False)
        try:
            with self._db.write("lock") as conn:
                stmt = self._db.insert(models.locks).values(
                    workspace=workspace, id=info.id, holder=info.holder, host=info.host,
                    pid=info.pid, operation=operation, created_at=info.created_at,
                ).on_conflict_do_nothing(index_elements=["workspace"]).returning(models.locks.c.id)
                inserted = conn.execute(stmt).first() is not None   # INSERT rowcount is unreliable
        except BaseException:
            if session is not None:
                session.close()
            raise
        if inserted:
            with self._mutex:
                self._held[info.id] = session
            return info
        holder = self.current(workspace)
        if session is not None:
            session.close()   # we held the advisory lock, so the row's holder does not: it is dead
            return _Busy(holder, dead=holder is not None)
        dead = holder is not None and holder.host == host and not pid_alive(holder.pid)
        return _Busy(holder, dead=dead)

    def release(self, lock: LockInfo) -> None:
        """Delete the row only if it is still this lock; then end its advisory session."""
        try:
            with self._db.write("unlock") as conn:
                conn.execute(delete(models.locks).where(models.locks.c.workspace == lock.workspace,
                                                        models.locks.c.id == lock.id))
        finally:
            self._end_session(lock.id)

    def force_release(self, workspace: str, lock_id: str) -> None:
        with self._db.write("force-unlock") as conn:
            gone = conn.execute(delete(models.locks).where(models.locks.c.workspace == workspace,
                                                           models.locks.c.id == lock_id)).rowcount
        if not gone:
            cur = self.current(workspace)
            now = (f"; the current lock is {cur.id}, held by {cur.holder} (pid {cur.pid}) "
                   f"for {cur.operation}") if cur else "; the workspace is not locked"
            raise StateError(f"no lock {lock_id} on workspace {workspace}{now}")
        self._end_session(lock_id)

    def current(self, workspace: str) -> LockInfo | None:
        with self._db.read("read lock") as conn:
            row = conn.execute(select(models.locks).where(models.locks.c.workspace == workspace)).first()
        return _info(row) if row is not None else None

    def release_all(self) -> None:
        """Locks still held when the store closes are released, as an interrupted apply should."""
        with self._mutex:
            held = list(self._held)
        for lock_id in held:
            try:
                with self._db.write("unlock") as conn:
                    conn.execute(delete(models.locks).where(models.locks.c.id == lock_id))
            except StateError:
                pass   # the session closes below anyway; a row left behind is reported as dead
            self._end_session(lock_id)

    def _end_session(self, lock_id: str) -> None:
        with self._mutex:
            session = self._held.pop(lock_id, None)
        if session is not None:
            session.close()   # ends the server session, which releases its advisory lock


# built once: constructing a statement costs SQLAlchemy more than SQLite's running it, and this
# one runs in every state write
_LOCK_ROW = select(models.locks).where(models.locks.c.workspace == bindparam("ws"))


def check_writer(conn: Connection, workspace: str, lock: LockInfo | None) -> None:
    """Refuse a write that a lock forbids, inside the write's own transaction.

    With `lock`, it must still be the workspace's lock (not force-unlocked meanwhile). Without, a
    lock held by another process forbids the write; one held by this process is the caller's own.
    """
    row = conn.execute(_LOCK_ROW, {"ws": workspace}).first()
    if lock is not None:
        if row is None or row.id != lock.id:
            raise LockError(f"lock {lock.id} on workspace {workspace} is no longer held "
                            "(force-unlocked?); nothing was written")
    elif row is not None and (row.host, row.pid) != (this_host(), os.getpid()):
        raise LockError(held_message(_info(row), dead=False))


def held_message(holder: LockInfo, *, dead: bool) -> str:
    since = holder.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    msg = (f"state is locked by {holder.holder} (pid {holder.pid}) for {holder.operation} "
           f"since {since} (held {_age(holder.created_at)}); lock id {holder.id}, "
           f"workspace {holder.workspace}")
    if dead:
        msg += (f"; the holder appears dead (no ecpctl holds this lock any more); if no ecpctl is "
                f"running for this workspace, release it with `ecpctl force-unlock {holder.id}`")
    return msg


def _age(since: datetime) -> str:
    secs = max(0, int((utcnow() - since).total_seconds()))
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def _info(row) -> LockInfo:
    return LockInfo(id=row.id, workspace=row.workspace, holder=row.holder, host=row.host,
                    pid=row.pid, operation=row.operation, created_at=row.created_at)

