"""The keys of saved plans made without a state key, kept in the state database, never in the plan.

Without a state key the state database is the one place allowed to hold a secret. A plan saved
then (`plan -o FILE`) seals its secrets with a random key of its own; the key is kept here, by the
plan's id, and `apply FILE` reads it back. A plan applied to another state finds no key and is
refused. A key goes once its plan has been applied, or when the workspace's serial has moved past
the serial the plan was made at (the plan is stale then, and never applies).
"""

from __future__ import annotations

import base64

from sqlalchemy import Connection, delete, inspect, or_, select

from state import models
from state.database import Database
from state.keys import KEY_BYTES
from state.records import utcnow

P = models.plan_keys


def keep(db: Database, workspace: str, plan_id: str, lineage: str | None, serial: int,
         secret: bytes) -> None:
    """Keep a plan's key, and drop the keys of the workspace's plans made at older serials."""
    assert len(secret) == KEY_BYTES
    with db.write(f"keep the key of a saved plan of workspace {workspace}") as conn:
        conn.execute(delete(P).where(P.c.workspace == workspace, P.c.serial < serial))
        conn.execute(P.insert().values(id=plan_id, workspace=workspace, lineage=lineage or None,
                                       serial=serial, secret=base64.b64encode(secret).decode(),
                                       created_at=utcnow()))


def find(db: Database, workspace: str, plan_id: str) -> bytes | None:
    """The key of plan `plan_id` of `workspace`, None when this state does not hold it."""
    with db.read(f"read the key of a saved plan of workspace {workspace}") as conn:
        if db.readonly and not _has_table(conn):
            return None     # a state written before plan keys existed holds none
        text = conn.execute(select(P.c.secret).where(P.c.id == plan_id,
                                                     P.c.workspace == workspace)).scalar()
    return base64.b64decode(text) if text else None


def drop(db: Database, workspace: str, *, serial_below: int, plan_id: str | None = None) -> int:
    """Forget the keys of plans made before `serial_below`, and of `plan_id` (applied); how many."""
    cond = P.c.serial < serial_below
    if plan_id is not None:
        cond = or_(cond, P.c.id == plan_id)
    with db.write(f"forget the keys of saved plans of workspace {workspace}") as conn:
        return conn.execute(delete(P).where(P.c.workspace == workspace, cond)).rowcount


def drop_workspace(conn: Connection, workspace: str) -> None:
    conn.execute(delete(P).where(P.c.workspace == workspace))


def _has_table(conn: Connection) -> bool:
    return inspect(conn).has_table(P.name)
