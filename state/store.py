"""StateStore: the only way state changes, one short transaction per call.

Every write commits at once and bumps the workspace serial, so a killed apply leaves exactly the
resources it finished. Reads of a workspace are one query per table inside one transaction, and
verify each row's checksum, so rows edited outside ecpctl are caught before a plan trusts them.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from ecpctl.kernel import StateError
from ecpctl.kernel import Address, ResourceState
from state import crypto, document, keys, models, plan_keys, rows
from state.bulk import gc_paused
from state.crypto import Sealer
from state.keys import StateKey
from state.database import Database
from state.lock import Locker, check_writer
from state.records import LockInfo, StateSnapshot, TenantRecord, VersionInfo, utcnow

DEFAULT_WORKSPACE = "default"
HISTORY_LIMIT = 100       # versions kept per workspace; older ones are pruned at each checkpoint
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

W, R, V, T = models.workspaces, models.resources, models.versions, models.tenants

# Statements of every state write, built once (SQLAlchemy spends more building one than SQLite
# spends running it): the serial bump and a resource's removal.
_BUMP = (update(W).where(W.c.name == bindparam("ws"))
         .values(serial=W.c.serial + 1, updated_at=bindparam("now")).returning(W.c.serial))
_FORGET = delete(R).where(R.c.workspace == bindparam("ws"), R.c.address == bindparam("addr"))


class _FromEnv:
    def __repr__(self) -> str:
        return "FROM_ENV"


FROM_ENV: Any = _FromEnv()   # the key of ECPCTL_STATE_KEY / ECPCTL_STATE_KEY_FILE, if any


@dataclass(frozen=True)
class RekeyReport:
    """What `rekey` did: values (re-)encrypted or decrypted in resources and in history versions."""

    old_kid: str | None
    new_kid: str | None
    resources: int = 0          # resources rewritten
    values: int = 0             # sensitive values in them
    versions: int = 0           # history versions rewritten
    version_values: int = 0
    skipped: tuple[tuple[int, str], ...] = field(default=())   # (version, why) left as they were


class StateStore:
    """Workspaces, their resources, history, locks and tenants registry, in one database."""

    def __init__(self, db: Database, *, history_limit: int = HISTORY_LIMIT,
                 key: StateKey | None = FROM_ENV):
        self._db = db
        self._locks = Locker(db)
        self._history_limit = history_limit
        self._sealer = Sealer(keys.key_from_env() if key is FROM_ENV else key)
        self._upsert: Any = None        # write_batch's statement, built once for this backend

    @classmethod
    def open(cls, url: str | None, *, data_dir: Path, history_limit: int = HISTORY_LIMIT,
             key: StateKey | None = FROM_ENV, readonly: bool = False) -> StateStore:
        """None: SQLite at data_dir/state.db (0600, in a 0700 dir); else a SQLAlchemy URL.

        With a key, sensitive values are encrypted at rest (state/crypto.py); by default the key
        is ECPCTL_STATE_KEY or ECPCTL_STATE_KEY_FILE's, read (and checked) before anything is opened.
        `readonly=True` creates nothing (no directory, file, table or row): a state that does not
        exist yet reads as empty, and every write method raises StateError.
        """
        if key is FROM_ENV:
            key = keys.key_from_env()
        return cls(Database.open(url, Path(data_dir), readonly=readonly),
                   history_limit=history_limit, key=key)

    @property
    def readonly(self) -> bool:
        return self._db.readonly

    @property
    def key(self) -> StateKey | None:
        """The key sensitive values are encrypted with, None when they are stored as they are."""
        return self._sealer.key

    def set_key(self, key: StateKey | None) -> None:
        """Use `key` from now on (a Project's key file, known only once the specs are loaded)."""
        self._sealer = Sealer(key)

    def close(self) -> None:
        try:
            self._locks.release_all()
        finally:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return self._db.display_url

    # --- workspaces ------------------------------------------------------------------------

    def workspaces(self) -> list[str]:
        with self._db.read("list workspaces") as conn:
            names = set(conn.execute(select(W.c.name)).scalars())
        return sorted(names | {DEFAULT_WORKSPACE})

    def create_workspace(self, name: str) -> None:
        _check_name(name)
        if name == DEFAULT_WORKSPACE:
            raise StateError(f"workspace {name} already exists")
        with self._db.write(f"create workspace {name}") as conn:
            if not self._insert_head(conn, name):
                raise StateError(f"workspace {name} already exists")

    def delete_workspace(self, name: str, *, force: bool = False) -> None:
        _check_name(name)
        if name == DEFAULT_WORKSPACE:
            raise StateError("the default workspace cannot be deleted")
        with self._db.write(f"delete workspace {name}") as conn:
            self._require(conn, name)
            check_writer(conn, name, None)
            n_res = conn.execute(select(func.count()).select_from(R).where(R.c.workspace == name)).scalar()
            n_ten = conn.execute(select(func.count()).select_from(T).where(T.c.workspace == name)).scalar()
            if (n_res or n_ten) and not force:
                raise StateError(
                    f"workspace {name} still records {n_res} resources and {n_ten} tenants; destroy "
                    "them first, or delete with --force, which forgets them without destroying anything")
            for table in (R, T, V):
                conn.execute(delete(table).where(table.c.workspace == name))
            conn.execute(delete(models.locks).where(models.locks.c.workspace == name))
            plan_keys.drop_workspace(conn, name)
            conn.execute(delete(W).where(W.c.name == name))

    # --- reading ---------------------------------------------------------------------------

    def snapshot(self, workspace: str, *, decrypt: bool = True,
                 tenants: frozenset[str] | None = None) -> StateSnapshot:
        """The state of `workspace`, sensitive values in clear.

        `decrypt=False` leaves encrypted values as they are stored, for commands that never show
        them (`state list`, `tenants`): those work without the key. `tenants`: the resources of
        these tenants only (read through the tenant column's index; `plan --target`).
        """
        _check_name(workspace)
        with self._db.read(f"read state of workspace {workspace}") as conn:
            lineage, serial = self._head(conn, workspace)
            res_rows, ten_rows = self._contents(conn, workspace, tenants)
            try:
                texts = rows.verified_texts(res_rows)
                resources = rows.resource_states(texts)
                registry = {r.tenant_id: rows.tenant_record(r) for r in ten_rows}
            except rows.Corrupt as bad:
                raise self._corrupt(conn, workspace, bad) from None
        if decrypt:
            for address, data in texts:
                if crypto.has_envelopes(data):
                    resources[address] = self._sealer.open(resources[address], workspace)
        return StateSnapshot(lineage=lineage, serial=serial, resources=MappingProxyType(resources),
                             tenants=MappingProxyType(registry), covers=tenants)

    def head(self, workspace: str) -> tuple[str, int]:
        """(lineage, serial) of `workspace` in one small query: whether a snapshot is still current."""
        _check_name(workspace)
        with self._db.read(f"read head of workspace {workspace}") as conn:
            return self._head(conn, workspace)

    def tenants_held(self, workspace: str) -> tuple[frozenset[str], frozenset[str]]:
        """(the tenants some resource of `workspace` belongs to, the tenants its registry lists),
        read from two indexed columns: what an apply needs to keep the registry in step, without
        decoding a fleet's state again."""
        _check_name(workspace)
        with self._db.read(f"read tenants of workspace {workspace}") as conn:
            held = conn.execute(select(R.c.tenant).distinct()
                                .where(R.c.workspace == workspace)).scalars().all()
            listed = conn.execute(select(T.c.tenant_id)
                                  .where(T.c.workspace == workspace)).scalars().all()
        return frozenset(t for t in held if t), frozenset(listed)

    # --- writing ---------------------------------------------------------------------------

    def ensure_lineage(self, workspace: str) -> str:
        """The lineage of `workspace`, given to it now if it has none yet (the default workspace
        before its first write): what apply marks its objects with (docs/ownership.md)."""
        _check_name(workspace)
        with self._db.write(f"give workspace {workspace} a lineage") as conn:
            return self._head(conn, workspace, create=True)[0]

    def put_resource(self, workspace: str, rs: ResourceState, *, lock: LockInfo | None = None) -> None:
        self.write_batch(workspace, [self.record_values(workspace, rs)], [], lock=lock,
                         what=f"record {rs.address}")

    def remove_resource(self, workspace: str, address: str, *, lock: LockInfo | None = None) -> None:
        self.write_batch(workspace, [], [address], lock=lock, what=f"forget {address}",
                         strict=True)

    def record_values(self, workspace: str, rs: ResourceState) -> dict[str, Any]:
        """The row of `rs` (sealed, serialized, checksummed), built outside any transaction so that
        the workers of an apply do this part in parallel before a group commit."""
        _check_name(workspace)
        rs = self._sealer.seal(rs, workspace)
        return rows.resource_values(workspace, rs, document.resource_text(rs))

    def write_batch(self, workspace: str, puts: list[dict[str, Any]], removes: list[str], *,
                    lock: LockInfo | None = None, what: str | None = None,
                    strict: bool = False) -> dict[str, StateError]:
        """Many resource writes in one transaction (a group commit): `puts` are rows from
        `record_values`, `removes` addresses. The serial moves once for the batch. Returns the
        removes that found nothing, by address (`strict`: raises for the first instead, and nothing
        is written); any other failure fails the whole batch (raised)."""
        _check_name(workspace)
        missing: dict[str, StateError] = {}
        if self._upsert is None:
            stmt = self._db.insert(R)
            self._upsert = stmt.on_conflict_do_update(
                index_elements=["workspace", "address"],
                set_={k: stmt.excluded[k] for k in ("provider", "type", "tenant", "data", "checksum")})
        with self._db.write(what or f"record {len(puts) + len(removes)} resources") as conn:
            check_writer(conn, workspace, lock)
            self._bump(conn, workspace)
            for address in removes:
                if not conn.execute(_FORGET, {"ws": workspace, "addr": address}).rowcount:
                    missing[address] = StateError(
                        f"no resource {address} in the state of workspace {workspace}")
                    if strict:
                        raise missing[address]
            if puts:
                conn.execute(self._upsert, puts)
        return missing

    def move_resource(self, workspace: str, src: str, dst: str) -> None:
        """`state mv`: the same record under a new address (nothing changes in any provider)."""
        _check_name(workspace)
        with self._db.write(f"move {src} to {dst}") as conn:
            check_writer(conn, workspace, None)
            row = conn.execute(select(R).where(R.c.workspace == workspace, R.c.address == src)).first()
            if row is None:
                raise StateError(f"no resource {src} in the state of workspace {workspace}")
            if conn.execute(select(R.c.address).where(R.c.workspace == workspace,
                                                      R.c.address == dst)).first() is not None:
                raise StateError(f"cannot move {src} to {dst}: {dst} is already in the state of "
                                 f"workspace {workspace}")
            try:
                rs = rows.resource_states(rows.verified_texts([row]))[src]
            except rows.Corrupt as bad:
                raise self._corrupt(conn, workspace, bad) from None
            if crypto.has_envelopes(row.data):   # bound to the old address: encrypt again
                rs = self._sealer.open(rs, workspace)
            moved = self._sealer.seal(replace(rs, addr=Address.parse(dst)), workspace)
            self._bump(conn, workspace)
            conn.execute(delete(R).where(R.c.workspace == workspace, R.c.address == src))
            conn.execute(R.insert().values(**rows.resource_values(
                workspace, moved, document.resource_text(moved))))

    # --- history, pull, push ---------------------------------------------------------------

    def checkpoint(self, workspace: str, operation: str) -> int:
        """Write the current state as a history version; its number is the current serial."""
        _check_name(workspace)
        with self._db.write(f"checkpoint workspace {workspace}") as conn:
            lineage, serial = self._head(conn, workspace, create=True)
            if conn.execute(select(V.c.serial).where(V.c.workspace == workspace,
                                                     V.c.serial == serial)).first() is not None:
                return serial   # nothing was written since that version
            body, count = self._body(conn, workspace, lineage, serial)
            self._add_version(conn, workspace, lineage, serial, operation, body, count)
        return serial

    def history(self, workspace: str) -> list[VersionInfo]:
        """Versions of a workspace, newest first."""
        _check_name(workspace)
        with self._db.read(f"read history of workspace {workspace}") as conn:
            self._head(conn, workspace)
            found = conn.execute(
                select(V.c.serial, V.c.lineage, V.c.created_at, V.c.operation, V.c.resource_count)
                .where(V.c.workspace == workspace).order_by(V.c.serial.desc())).all()
        return [VersionInfo(version=r.serial, lineage=r.lineage, created_at=r.created_at,
                            operation=r.operation, resources=r.resource_count) for r in found]

    def pull(self, workspace: str, version: int | None = None) -> dict[str, Any]:
        """The document of the current state, or of history version `version`."""
        _check_name(workspace)
        with self._db.read(f"pull state of workspace {workspace}") as conn:
            lineage, serial = self._head(conn, workspace)
            if version is None:
                body, _ = self._body(conn, workspace, lineage, serial)
                return document.to_document(body, document.checksum(body))
            row = conn.execute(select(V.c.document, V.c.checksum).where(
                V.c.workspace == workspace, V.c.serial == version)).first()
            if row is None:
                raise StateError(f"workspace {workspace} has no version {version}; "
                                 "`ecpctl state history` lists the versions kept")
            if document.checksum(row.document) != row.checksum:
                raise self._corrupt(conn, workspace, rows.Corrupt(f"version {version} checksum mismatch"))
            return document.to_document(row.document, row.checksum)

    def push(self, workspace: str, doc: dict, *, force: bool = False) -> None:
        """Replace a workspace's state with a document; an older or foreign one needs `force`."""
        _check_name(workspace)
        with gc_paused():
            parsed = document.parse(doc)
        if not parsed.had_checksum and not force:
            raise StateError("state document has no checksum (edited by hand?); push it with --force "
                             "if that is what you mean")
        with self._db.write(f"push state to workspace {workspace}") as conn:
            check_writer(conn, workspace, None)
            lineage, serial = self._head(conn, workspace, create=True)
            written = serial > 0
            if not force and written:
                if parsed.lineage != lineage:
                    raise StateError(
                        f"cannot push: the document's lineage {parsed.lineage} is not workspace "
                        f"{workspace}'s lineage {lineage} (it is the state of something else); "
                        "use --force to replace the state anyway")
                if parsed.serial < serial:
                    raise StateError(
                        f"cannot push: the document's serial {parsed.serial} is lower than workspace "
                        f"{workspace}'s serial {serial} (the stored state is newer); pull again, or "
                        "use --force to replace it with the older state")
                if parsed.serial == serial:
                    current, _ = self._body(conn, workspace, lineage, serial)
                    if current == document.body_text(workspace, lineage, serial, *_parts(parsed)):
                        return   # the same state: nothing to write
                    raise StateError(
                        f"cannot push: the document has serial {serial} like the stored state but "
                        "different content; raise its serial, or use --force")
            new_serial = max(serial + 1, parsed.serial)
            self._replace(conn, workspace, parsed, new_serial)
            body, _ = self._body(conn, workspace, parsed.lineage, new_serial)
            self._add_version(conn, workspace, parsed.lineage, new_serial,
                              "push --force" if force else "push", body, len(parsed.resources))

    # --- keys of saved plans made without a state key (state/plan_keys.py) ----------------

    def keep_plan_key(self, workspace: str, plan_id: str, lineage: str | None, serial: int,
                      secret: bytes) -> None:
        _check_name(workspace)
        plan_keys.keep(self._db, workspace, plan_id, lineage, serial, secret)

    def plan_key(self, workspace: str, plan_id: str) -> bytes | None:
        _check_name(workspace)
        return plan_keys.find(self._db, workspace, plan_id)

    def drop_plan_keys(self, workspace: str, *, serial_below: int,
                       plan_id: str | None = None) -> int:
        _check_name(workspace)
        return plan_keys.drop(self._db, workspace, serial_below=serial_below, plan_id=plan_id)

    # --- encryption at rest ----------------------------------------------------------------

    def rekey(self, workspace: str, new_key: StateKey | None, *, lock: LockInfo) -> RekeyReport:
        """Encrypt every sensitive value of the workspace, and of its kept history, with `new_key`.

        Values are opened with the store's key (none: the state must hold no encrypted value) and
        written under `new_key` (None: decrypted), in one transaction: a failure writes nothing.
        The serial does not move: the state says the same thing, only its encryption changed.
        History versions that fail their checksum, or were written under another key than the
        store's, are left as they were and reported.
        """
        _check_name(workspace)
        new = Sealer(new_key)
        resources = values = versions = version_values = 0
        skipped: list[tuple[int, str]] = []
        with gc_paused(), self._db.write(f"rekey workspace {workspace}") as conn:
            check_writer(conn, workspace, lock)
            self._head(conn, workspace)
            res_rows = conn.execute(select(R.c.address, R.c.data, R.c.checksum)
                                    .where(R.c.workspace == workspace)).all()
            try:
                states = rows.resource_states(rows.verified_texts(res_rows))
            except rows.Corrupt as bad:
                raise self._corrupt(conn, workspace, bad) from None
            changed = []
            for address, rs in states.items():
                after, n = self._recrypt(rs, workspace, new, what="state")
                if after is not rs:
                    text = document.resource_text(after)
                    changed.append({"b_address": address, "b_data": text,
                                    "b_checksum": document.checksum(text)})
                    values += n
            if changed:
                conn.execute(update(R).where(R.c.workspace == workspace,
                                             R.c.address == bindparam("b_address"))
                             .values(data=bindparam("b_data"), checksum=bindparam("b_checksum")),
                             changed)
            resources = len(changed)
            serials = conn.execute(select(V.c.serial).where(V.c.workspace == workspace)
                                   .order_by(V.c.serial)).scalars().all()
            for serial in serials:   # one at a time: each is a whole document
                row = conn.execute(select(V.c.document, V.c.checksum).where(
                    V.c.workspace == workspace, V.c.serial == serial)).first()
                if document.checksum(row.document) != row.checksum:
                    skipped.append((serial, "checksum mismatch"))
                    continue
                if not new.enabled and not crypto.has_envelopes(row.document):
                    continue
                try:
                    body, n = self._recrypt_version(row.document, workspace, serial, new)
                except StateError as exc:
                    skipped.append((serial, str(exc)))
                    continue
                if body is None:
                    continue
                conn.execute(update(V).where(V.c.workspace == workspace, V.c.serial == serial)
                             .values(document=body, checksum=document.checksum(body)))
                versions += 1
                version_values += n
        old = self._sealer.key
        return RekeyReport(old_kid=old.kid if old else None, new_kid=new_key.kid if new_key else None,
                           resources=resources, values=values, versions=versions,
                           version_values=version_values, skipped=tuple(skipped))

    def _recrypt(self, rs: ResourceState, workspace: str, new: Sealer, *,
                 what: str) -> tuple[ResourceState, int]:
        """`rs` under `new` (the same object when nothing changes) and its number of secret values."""
        sealed = _envelopes(rs)
        if not sealed and not (rs.sensitive and new.enabled):
            return rs, 0
        after = new.seal(self._sealer.open(rs, workspace, what=what), workspace)
        if after == rs:
            return rs, 0
        return after, max(sealed, _envelopes(after))

    def _recrypt_version(self, body: str, workspace: str, serial: int,
                         new: Sealer) -> tuple[str | None, int]:
        doc = json.loads(body)
        count, touched = 0, False
        for i, d in enumerate(doc["resources"]):
            rs = ResourceState.from_dict(d)
            after, n = self._recrypt(rs, workspace, new,
                                     what=f"version {serial} of workspace {workspace}")
            if after is not rs:
                doc["resources"][i] = after.to_dict()
                count += n
                touched = True
        return (document.canonical(doc) if touched else None), count

    def _rebind(self, rs: ResourceState, source: str, workspace: str) -> ResourceState:
        """A pushed resource's values encrypted for `workspace` (they were bound to `source`)."""
        if not rs.sensitive:
            return rs
        if self._sealer.enabled:
            return self._sealer.seal(self._sealer.open(rs, source, what="the pushed document"),
                                     workspace)
        if source != workspace and _envelopes(rs):
            raise crypto.KeyMissing(
                f"the pushed document holds values encrypted for workspace {source}; pushing it to "
                f"workspace {workspace} encrypts them again, which needs {keys.KEY_ENV}")
        return rs   # no key: values go in as they are (encrypted ones still open in `workspace`)

    # --- locks -----------------------------------------------------------------------------

    def lock(self, workspace: str, operation: str, *, timeout: float = 0.0) -> LockInfo:
        """Take the workspace lock, waiting up to `timeout` seconds for a live holder."""
        _check_name(workspace)
        with self._db.read(f"lock workspace {workspace}") as conn:
            self._head(conn, workspace)
        return self._locks.acquire(workspace, operation, timeout)

    def unlock(self, lock: LockInfo) -> None:
        self._locks.release(lock)

    def force_unlock(self, workspace: str, lock_id: str) -> None:
        _check_name(workspace)
        self._locks.force_release(workspace, lock_id)

    def current_lock(self, workspace: str) -> LockInfo | None:
        _check_name(workspace)
        return self._locks.current(workspace)

    # --- tenants registry ------------------------------------------------------------------

    def upsert_tenant(self, workspace: str, rec: TenantRecord) -> None:
        _check_name(workspace)
        now = utcnow()
        values = rows.tenant_values(workspace, replace(rec, created_at=now, updated_at=now))
        changed = {k: v for k, v in values.items() if k not in ("workspace", "tenant_id", "created_at")}
        with self._db.write(f"record tenant {rec.tenant_id}") as conn:
            check_writer(conn, workspace, None)
            self._bump(conn, workspace)
            conn.execute(self._db.insert(T).values(**values).on_conflict_do_update(
                index_elements=["workspace", "tenant_id"], set_=changed))

    def remove_tenant(self, workspace: str, tenant_id: str) -> None:
        _check_name(workspace)
        with self._db.write(f"forget tenant {tenant_id}") as conn:
            check_writer(conn, workspace, None)
            self._bump(conn, workspace)
            gone = conn.execute(delete(T).where(T.c.workspace == workspace,
                                                T.c.tenant_id == tenant_id)).rowcount
            if not gone:
                raise StateError(f"no tenant {tenant_id} in the registry of workspace {workspace}")

    # --- inside transactions ---------------------------------------------------------------

    def _head(self, conn: Connection, workspace: str, *, create: bool = False) -> tuple[str, int]:
        """(lineage, serial); the default workspace exists before its first write, as ("", 0)."""
        row = conn.execute(select(W.c.lineage, W.c.serial).where(W.c.name == workspace)).first()
        if row is not None:
            return row.lineage, row.serial
        self._require(conn, workspace)
        if not create:
            return "", 0
        self._insert_head(conn, workspace)
        return self._head(conn, workspace)

    def _bump(self, conn: Connection, workspace: str) -> int:
        """Serial + 1 for this write; gives the default workspace its lineage on its first write."""
        params = {"ws": workspace, "now": utcnow()}
        serial = conn.execute(_BUMP, params).scalar()
        if serial is None:
            self._require(conn, workspace)
            self._insert_head(conn, workspace)
            serial = conn.execute(_BUMP, params).scalar()
        return serial

    def _insert_head(self, conn: Connection, workspace: str) -> bool:
        """A workspace row with a new lineage at serial 0; False if it was there already."""
        now = utcnow()
        return conn.execute(self._db.insert(W).values(
            name=workspace, lineage=str(uuid.uuid4()), serial=0, created_at=now, updated_at=now,
        ).on_conflict_do_nothing(index_elements=["name"]).returning(W.c.name)).first() is not None

    @staticmethod
    def _require(conn: Connection, workspace: str) -> None:
        if workspace == DEFAULT_WORKSPACE:
            return
        if conn.execute(select(W.c.name).where(W.c.name == workspace)).first() is None:
            raise StateError(f"workspace {workspace} does not exist; create it with "
                             f"`ecpctl workspace new {workspace}`")

    @staticmethod
    def _contents(conn: Connection, workspace: str, tenants: frozenset[str] | None = None):
        query = select(R.c.address, R.c.data, R.c.checksum).where(R.c.workspace == workspace)
        if tenants is not None:
            query = query.where(R.c.tenant.in_(sorted(tenants)))
        res = conn.execute(query).all()
        ten = conn.execute(select(T).where(T.c.workspace == workspace).order_by(T.c.tenant_id)).all()
        return res, ten

    def _body(self, conn: Connection, workspace: str, lineage: str, serial: int) -> tuple[str, int]:
        """The canonical document body of the current state, and its resource count."""
        res_rows, ten_rows = self._contents(conn, workspace)
        try:
            texts = rows.verified_texts(res_rows)
            tenants = sorted((rows.tenant_record(r).to_dict() for r in ten_rows),
                             key=lambda t: t["tenant_id"])
        except rows.Corrupt as bad:
            raise self._corrupt(conn, workspace, bad) from None
        body = document.body_text(workspace, lineage, serial, (t for _, t in texts), tenants)
        return body, len(texts)

    def _add_version(self, conn: Connection, workspace: str, lineage: str, serial: int,
                     operation: str, body: str, count: int) -> None:
        conn.execute(V.insert().values(
            workspace=workspace, serial=serial, lineage=lineage, created_at=utcnow(),
            operation=operation, resource_count=count, document=body, checksum=document.checksum(body)))
        if self._history_limit > 0:
            keep = (select(V.c.serial).where(V.c.workspace == workspace)
                    .order_by(V.c.serial.desc()).limit(self._history_limit))
            conn.execute(delete(V).where(V.c.workspace == workspace,
                                         V.c.serial.not_in(keep.scalar_subquery())))

    @gc_paused()
    def _replace(self, conn: Connection, workspace: str, parsed: document.ParsedDocument,
                 serial: int) -> None:
        conn.execute(delete(R).where(R.c.workspace == workspace))
        conn.execute(delete(T).where(T.c.workspace == workspace))
        if parsed.resources:
            source = parsed.workspace or workspace
            sealed = [self._rebind(rs, source, workspace) for rs in parsed.resources]
            conn.execute(R.insert(), [rows.resource_values(workspace, rs, document.resource_text(rs))
                                      for rs in sealed])
        if parsed.tenants:
            now = utcnow()
            conn.execute(T.insert(), [rows.tenant_values(workspace, replace(
                t, created_at=t.created_at or now, updated_at=t.updated_at or now)) for t in parsed.tenants])
        conn.execute(update(W).where(W.c.name == workspace).values(
            lineage=parsed.lineage, serial=serial, updated_at=utcnow()))

    def _corrupt(self, conn: Connection, workspace: str, bad: rows.Corrupt) -> StateError:
        good = None
        for serial in conn.execute(select(V.c.serial).where(V.c.workspace == workspace)
                                   .order_by(V.c.serial.desc())).scalars().all():
            row = conn.execute(select(V.c.document, V.c.checksum).where(
                V.c.workspace == workspace, V.c.serial == serial)).first()
            if document.checksum(row.document) == row.checksum:
                good = serial
                break
        if good is not None:
            fix = (f"recover with `ecpctl state pull --version {good} > state.json` and then "
                   "`ecpctl state push --force state.json`")
        else:
            fix = "no intact history version is kept to recover from"
        return StateError(f"state for workspace {workspace} is corrupt: {bad.what} (edited outside "
                          f"ecpctl?); {fix}")


def _parts(parsed: document.ParsedDocument) -> tuple[list[str], list[dict[str, Any]]]:
    """Canonical resource texts (sorted by address) and tenant dicts of a pushed document."""
    texts = sorted((rs.address, document.resource_text(rs)) for rs in parsed.resources)
    tenants = sorted((t.to_dict() for t in parsed.tenants), key=lambda t: t["tenant_id"])
    return [t for _, t in texts], tenants


def _envelopes(rs: ResourceState) -> int:
    return sum(crypto.count_envelopes(t) for t in (rs.attributes, rs.observed, rs.private))


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise StateError(f"invalid workspace name {name!r}: use letters, digits, '-', '_' and '.', "
                         "starting with a letter or digit, at most 64 characters")
