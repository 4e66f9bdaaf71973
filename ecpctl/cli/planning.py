"""What plan, apply, destroy and show share: reading state under the workspace lock, making a plan,
saving and loading plan files, asking for approval, and walking a plan.

Nothing here prints a plan or an outcome: the commands hand results to their views.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.options import LockArgs, PlanScope, ProviderArgs
from ecpctl.kernel import EcpctlError, address_tenant

# The engine and the state store are imported inside the functions that use them, so that a
# command's `--help` stays quick.


class StateLock:
    """The workspace lock of one command run: taken on the store in use, released at the end.

    `--no-lock` makes it a no-op; so does a state that does not exist yet for a read-only command
    (there is nothing to protect, and taking a lock would create the database).
    """

    def __init__(self, obj: CliContext, args: LockArgs, operation: str):
        self.obj, self.args, self.operation = obj, args, operation
        self.info = None
        self._store = None

    @classmethod
    def unlocked(cls, obj: CliContext) -> StateLock:
        return cls(obj, LockArgs(enabled=False), "")

    def take(self, store) -> None:
        if not self.args.enabled or store is None or store.readonly:
            return      # a reader: the state does not exist yet (see `_open`)
        self.info = store.lock(self.obj.workspace, self.operation, timeout=self.args.timeout)
        self._store = store

    def take_for_reading(self, store) -> tuple:
        """`take` for a command that only reads: a lock whose holder died (a killed apply) cannot
        hide a write in progress, so the read goes on without it, with a warning that says how to
        release it. A live holder's lock is waited for, or refused, as always."""
        from ecpctl.kernel import Diagnostic, LockError
        try:
            self.take(store)
        except LockError as exc:
            if not _holder_dead(store, self.obj.workspace):
                raise
            return (Diagnostic.warning("read without the state lock", detail=str(exc)),)
        return ()

    def release(self) -> None:
        if self.info is not None and self._store is not None:
            store, info = self._store, self.info
            self.info = self._store = None
            store.unlock(info)


def _holder_dead(store, workspace: str) -> bool:
    from state.lock import pid_alive, this_host
    holder = store.current_lock(workspace)
    return holder is not None and holder.host == this_host() and not pid_alive(holder.pid)


@contextmanager
def state_lock(obj: CliContext, args: LockArgs, operation: str) -> Iterator[StateLock]:
    lock = StateLock(obj, args, operation)
    try:
        yield lock
    finally:
        lock.release()


def snapshot(obj: CliContext, path: Path, store=None, *, tenants: frozenset[str] | None = None):
    """The state in clear; a state encrypted with the key of the Project's keyFile loads it first.
    `tenants`: only these tenants' resources (StateStore.snapshot)."""
    from state.crypto import KeyMissing
    from ecpctl.config.loader import load_config
    store = store if store is not None else obj.reader()
    try:
        return store.snapshot(obj.workspace, tenants=tenants)
    except KeyMissing:
        if obj.key_from_environment():
            raise
        try:
            config = load_config(path)
        except EcpctlError:
            config = None   # the missing key is the news; spec errors show once it is set
        if config is None or not obj.use_project_key(config):
            raise
    return store.snapshot(obj.workspace, tenants=tenants)


def _reaches_beyond(snap) -> bool:
    """A resource read depends on one of a tenant that was not read."""
    return any(address_tenant(dep) not in snap.covers
               for rs in snap.resources.values() for dep in rs.depends_on)


@dataclass(frozen=True)
class Planned:
    plan: object            # ecpctl.plan.Plan
    providers: object       # providers.registry.ProviderSet (the caller closes it)


def make_plan(obj: CliContext, path: Path, scope: PlanScope, pargs: ProviderArgs,
              lock: StateLock, *, read_only: bool = False) -> Planned:
    """Read state, load the specs, take `lock`, refresh and diff.

    `read_only` (plan): a state that does not exist is read as empty and never created.
    """
    from ecpctl.engine import desired_state, plan_desired, provider_settings
    from ecpctl.kernel import tenants_named
    from ecpctl.kernel.ownership import Owner
    from ecpctl.planner import BeyondExpansion, PlanOptions, PriorState
    from ecpctl.registry import tenant_record
    from ecpctl.targets import resolve
    from providers.registry import ProviderSet

    # A --target that names its tenants expands only those, and reads only their resources from
    # the state; the plan is made again with every tenant if its scope reaches further
    # (BeyondExpansion). The whole state is read for a destroy (a resource of another tenant may
    # depend on one destroyed) and for a -replace of another tenant's resource.
    only = tenants_named(scope.targets) if scope.targets else None
    partial = only if only is not None and not scope.destroy and all(
        address_tenant(a) in only for a in scope.replace) else None

    def load(store, only=only, partial=partial):
        """(state, desired) that cover the same tenants (all of them when `only` is None)."""
        snap = snapshot(obj, path, store, tenants=partial)
        if snap.covers is not None and _reaches_beyond(snap):
            snap = snapshot(obj, path, store)
        desired = desired_state(path, snap.resources, replace=scope.replace,
                                workspace=obj.workspace, only=only)
        if snap.covers is not None and desired.covers is None:     # the expansion reached further
            return load(store, only=None, partial=None)
        return snap, desired

    # State and specs are read through the reader, which creates nothing: a spec that does not
    # validate (or a state that cannot be read) fails before any database exists.
    snap, desired = load(obj.reader())
    obj.use_project_key(desired.config)   # what apply writes is encrypted from the first run
    if desired.config.project.spec.state.url and not obj.resolved_state_url():
        # the Project names a state backend: reopen there so plan and apply agree
        obj.close()
        obj.state_url = desired.config.project.spec.state.url
        snap, desired = load(obj.reader())
    store = _open(obj, read_only, lock)
    # The lock is taken once the state has been read, so that a state that cannot be read (a
    # missing key) fails before anything, even a lock record, is written; the refresh below runs
    # under it, and a state that moved on in between is read again under it.
    notes = lock.take_for_reading(store)
    if lock.info is not None and store.head(obj.workspace) != (snap.lineage, snap.serial):
        snap, desired = load(store)
    for addr in scope.replace:
        if addr not in snap.resources:
            raise EcpctlError(f"--replace {addr}: no such resource in state")
    settings = provider_settings(desired.config)
    providers = ProviderSet(settings, pargs.settings())
    # offline (--no-refresh) nothing compares the live marks with this state before apply: the
    # providers check them as they write, unless --adopt takes everything over anyway
    providers.set_owner(Owner(obj.workspace, snap.lineage or ""),
                        check_on_write=not scope.refresh and not scope.adopt)
    opts = PlanOptions(refresh=scope.refresh, destroy=scope.destroy, targets=scope.targets,
                       excludes=scope.excludes, replace=scope.replace,
                       parallelism=pargs.parallelism, strict=pargs.strict, adopt=scope.adopt,
                       covers=desired.covers)
    prior = PriorState(lineage=snap.lineage, serial=snap.serial, resources=snap.resources)
    try:
        try:
            plan = plan_desired(desired, prior, workspace=obj.workspace,
                                providers=providers if scope.refresh else None, opts=opts)
        except BeyondExpansion:
            snap, desired = load(store, only=None, partial=None)
            prior = PriorState(lineage=snap.lineage, serial=snap.serial, resources=snap.resources)
            plan = plan_desired(desired, prior, workspace=obj.workspace,
                                providers=providers if scope.refresh else None,
                                opts=dataclasses.replace(opts, covers=None))
    except BaseException:
        providers.close()
        raise
    registry = {} if scope.destroy else {
        tid: tenant_record(desired.config.tenant(tid), desired.sizings[tid],
                           status="pending").to_dict()
        for tid in desired.config.tenant_ids}
    plan = dataclasses.replace(plan, provider_settings=settings, registry=registry,
                               diagnostics=(*notes, *desired.diagnostics, *plan.diagnostics),
                               provider_targets=resolve(providers) if scope.refresh else {})
    return Planned(plan, providers)


def _open(obj: CliContext, read_only: bool, lock: StateLock):
    """The store to plan from. A read-only command reads through `obj.reader()`, which creates
    nothing; it opens the writable store only to take the lock of a state that exists already
    (there is nothing to protect in one that does not, and locking would create it)."""
    if read_only and not (lock.args.enabled and state_exists(obj)):
        return obj.reader()
    return obj.store()


def open_reader(obj: CliContext):
    return obj.reader()


def state_exists(obj: CliContext) -> bool:
    """False only for a SQLite state whose file is not there yet."""
    from state import urls
    url = obj.resolved_state_url() or urls.default_sqlite_url(obj.data_dir)
    parsed = urls.parse(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    path = urls.sqlite_path(parsed)
    return path is None or path.is_file()


def _sealer(obj: CliContext):
    from state.crypto import Sealer
    return Sealer(obj.state_key())


def save_plan(obj: CliContext, plan, out: Path) -> None:
    """Sensitive values are encrypted with the state's key; a Project's key file is recorded so
    that `apply FILE` finds it without the specs. Without a state key they are encrypted with a
    random key of the plan's own, kept in the state database (created if need be), never in FILE."""
    from ecpctl.planfile import seal_plan_document, write_plan
    sealer = _sealer(obj)
    if not sealer.enabled:
        write_plan(plan, out, encode=lambda doc: _seal_with_plan_key(obj, plan, doc))
        return
    key_file = str(obj.key_file) if obj.key_file is not None and not obj.key_from_environment() \
        else None
    write_plan(plan, out, encode=lambda doc: seal_plan_document(doc, sealer, key_file=key_file))


def _seal_with_plan_key(obj: CliContext, plan, doc: dict) -> dict:
    """`doc` sealed with a new key, which the state keeps under a new plan id (state/plan_keys.py);
    a plan with no secret in it needs no key, and the state is not touched."""
    import os
    import uuid
    from ecpctl.planfile import PLAN_KEY, seal_plan_document
    from state.crypto import Sealer, count_envelopes
    from state.keys import KEY_BYTES, StateKey
    secret = os.urandom(KEY_BYTES)
    doc = seal_plan_document(doc, Sealer(StateKey(secret, source="the saved plan's key")))
    if count_envelopes(doc["changes"]):
        plan_id = str(uuid.uuid4())
        # kept before the file is written: a file whose key is nowhere would never apply
        obj.store().keep_plan_key(plan.workspace, plan_id, plan.lineage, plan.serial, secret)
        doc[PLAN_KEY] = plan_id
    return doc


def is_plan_file(path: Path) -> bool:
    from ecpctl.planfile import is_plan_file as check
    return check(path)


@dataclass(frozen=True)
class SavedPlan:
    plan: object            # ecpctl.plan.Plan, its sensitive values in clear
    plan_key_id: str | None   # the id its key is kept under in state (made without a state key)


def load_plan(obj: CliContext, path: Path):
    """A saved plan with its sensitive values opened: see `load_saved_plan`."""
    return load_saved_plan(obj, path).plan


def load_saved_plan(obj: CliContext, path: Path) -> SavedPlan:
    """A saved plan with its sensitive values opened. The key comes from the environment or the
    Project key file the plan names; a plan made without a state key reads its own key from the
    state (read-only), and is refused when the state does not hold it."""
    from ecpctl.planfile import KEY_FILE, PLAN_KEY, open_plan_document, read_plan
    from state.crypto import Sealer
    found: list[str] = []

    def decode(doc):
        if doc.get(PLAN_KEY):
            found.append(str(doc[PLAN_KEY]))
            sealer = Sealer(_kept_plan_key(obj, path, doc, found[0]))
        else:
            if doc.get(KEY_FILE) and not obj.key_from_environment() and obj.key_file is None:
                obj.key_file = Path(doc[KEY_FILE])
            sealer = _sealer(obj)
        return open_plan_document(doc, sealer, what=f"saved plan {path}")
    plan = read_plan(path, decode=decode)
    return SavedPlan(plan, found[0] if found else None)


def _kept_plan_key(obj: CliContext, path: Path, doc: dict, plan_id: str):
    from ecpctl.kernel import StateError
    from ecpctl.planfile import check_made_from
    from state.keys import StateKey
    store = obj.reader()
    workspace = str(doc["workspace"])
    secret = store.plan_key(workspace, plan_id)
    if secret is not None:
        return StateKey(secret, source=f"the key the state keeps for saved plan {path}")
    try:        # a plan made for another workspace or serial is refused as stale, as ever
        lineage, serial = store.head(obj.workspace)
    except StateError:
        pass        # no such workspace in this state: it is another state
    else:
        check_made_from(workspace, doc.get("lineage"), doc["serial"],
                        lineage=lineage, serial=serial, workspace=obj.workspace)
    raise StateError(f"saved plan {path} refused: it was made without a state key, so the key to "
                     "its secrets is kept only in the state it was made from, and state "
                     f"{store.url} (workspace {workspace}) does not hold it (the plan was made "
                     "against another state, or was applied already); apply it to the state it "
                     "was made from, or run plan again")


def confirm(question: str) -> None:
    """Terraform's approval prompt: only `yes` goes on."""
    click.echo(f"\n{question}\n  Only 'yes' will be accepted to approve.\n")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except (click.Abort, EOFError):
        answer = ""
    if answer.strip() != "yes":
        raise EcpctlError("apply cancelled (answer 'yes' to approve, or pass --auto-approve)")


@contextmanager
def interrupt_to_event(notice) -> Iterator[threading.Event]:
    """Ctrl-C asks the walk to stop starting work; in-flight work finishes and is saved."""
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if stop.is_set():
            return
        stop.set()
        notice()

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (tests)
        pass
    try:
        yield stop
    finally:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass


def execute(obj: CliContext, plan, providers, lock: StateLock, *, parallelism: int, events,
            on_interrupt, plan_key_id: str | None = None, timeout: float | None = None):
    """Walk `plan` under `lock` (taken here when the caller has not), keep the tenants registry
    in step, and return the ApplyOutcome; `timeout` (seconds, from the walk's start: a prompt
    does not count) bounds the walk. A stale saved plan is refused before anything runs.
    The keys the state kept for saved plans go once applied (`plan_key_id`) or stale."""
    from ecpctl.engine import run_apply, tenants_touched
    from ecpctl.kernel.ownership import Owner
    from ecpctl.planfile import check_fresh
    from state import TenantRecord

    store = obj.store()
    try:
        if lock.info is None:
            lock.take(store)
        lineage, serial = store.head(obj.workspace)     # the plan checked the contents
        check_fresh(plan, lineage, serial, obj.workspace)
        # what apply creates carries this state's lineage: a state without one gets it now
        providers.set_owner(Owner(obj.workspace, store.ensure_lineage(obj.workspace)),
                            check_on_write=providers.check_on_write)
        declared = set(plan.registry)
        ws = obj.workspace

        def record(tid: str, status: str) -> None:
            row = TenantRecord.from_dict({**plan.registry[tid], "status": status})
            store.upsert_tenant(ws, row)

        for tid in sorted(tenants_touched(plan) & declared):
            record(tid, "applying")
        with interrupt_to_event(on_interrupt) as stop:
            outcome = run_apply(plan, providers, store, lock=lock.info, parallelism=parallelism,
                                events=events, stop=stop, timeout=timeout)
        held, listed = store.tenants_held(ws)
        # a tenant whose rollout the interrupt cut short is not running yet either
        failed_tenants = {address_tenant(a) for a, _ in outcome.failed + outcome.cut_short}
        if outcome.timed_out:       # what the deadline left undone failed as much
            failed_tenants |= {address_tenant(a) for a in outcome.not_started}
        for tid in sorted(tenants_touched(plan)):
            if tid in declared:                 # still wanted: its status says how it went
                record(tid, "failed" if tid in failed_tenants else "running")
            elif tid not in held and tid in listed:
                store.remove_tenant(ws, tid)    # gone from the specs, and from state at last
        serial = store.checkpoint(ws, "destroy" if plan.destroy else "apply")
        store.drop_plan_keys(ws, serial_below=serial, plan_id=plan_key_id)
    finally:
        lock.release()
        providers.close()
    return outcome


def exit_code(outcome) -> int:
    if outcome.ok:
        return 0
    return 130 if outcome.interrupted and not outcome.failed and not outcome.timed_out else 1

