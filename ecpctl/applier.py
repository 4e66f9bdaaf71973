"""Apply: walk the plan's changes in dependency order and commit each finished resource to state.

Creates and updates follow dependency edges; deletes follow them in reverse (dependents go first).
A resource is reported finished only once its state write has committed; the writes of concurrent
workers share transactions (state/group_commit.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol
from collections.abc import Callable

import networkx as nx

from ecpctl.kernel import Diagnostic, ProviderError
from ecpctl.graph import check_acyclic
from ecpctl.plan import Action, Plan, ResourceChange
from ecpctl.kernel import Unreachable
from ecpctl.kernel.durations import format_duration
from ecpctl.kernel.retry import DEFAULT as RETRY
from ecpctl.kernel.scrub import scrub
from ecpctl.walk import Parked, WaitInterrupted, walk
from ecpctl.kernel.pending import Pending
from ecpctl.kernel import ResourceState
from providers.protocol import ApplyRequest, DeleteRequest
from providers.registry import ProviderSet
from state.group_commit import GroupCommit


class StateWriter(Protocol):
    def put_resource(self, workspace: str, rs: ResourceState, *, lock=None) -> None: ...
    def remove_resource(self, workspace: str, address: str, *, lock=None) -> None: ...


class ApplyEvents(Protocol):
    def started(self, change: ResourceChange) -> None: ...
    def progress(self, address: str, message: str) -> None: ...
    def finished(self, change: ResourceChange, error: BaseException | None, seconds: float) -> None: ...


@dataclass(frozen=True)
class ApplyOutcome:
    added: int
    changed: int
    destroyed: int
    failed: tuple[tuple[str, str], ...]        # (address, one-line error)
    skipped: tuple[tuple[str, str], ...]       # (address, the failed address upstream)
    not_started: tuple[str, ...]
    interrupted: bool
    diagnostics: tuple[Diagnostic, ...] = ()
    timeout: float | None = None    # the whole apply's --timeout in seconds, when it passed
    # (address, one line): written, its readiness or deletion wait ended by the interrupt; not
    # recorded, and not failed either: the next apply finishes it
    cut_short: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.skipped and not self.timed_out

    @property
    def timed_out(self) -> bool:
        """The apply's --timeout passed before every resource was started."""
        return self.timeout is not None

    def late_reason(self) -> str:
        """Why the resources in not_started were left, when the apply's --timeout passed."""
        return (f"not started: the apply's --timeout of "
                f"{format_duration(round((self.timeout or 0) * 1000))} passed")


def apply_graph(changes: tuple[ResourceChange, ...]) -> nx.DiGraph:
    by_addr = {c.address: c for c in changes}
    g = nx.DiGraph()
    g.add_nodes_from(by_addr)
    for c in changes:
        if c.action is Action.DELETE:
            deps = c.prior.depends_on if c.prior else c.depends_on
            for dep in deps:
                other = by_addr.get(dep)
                if other is not None and other.action is Action.DELETE:
                    g.add_edge(c.address, dep)
        else:
            for dep in c.depends_on:
                other = by_addr.get(dep)
                if other is not None and other.action is not Action.DELETE:
                    g.add_edge(dep, c.address)
    check_acyclic(g)
    return g


def error_line(exc: BaseException) -> str:
    if isinstance(exc, ProviderError):
        return scrub(exc.reason)
    return scrub(f"internal error: {exc.__class__.__name__}: {exc}")


def apply_plan(plan: Plan, providers: ProviderSet, store: StateWriter, *, lock=None,
               parallelism: int = 10, events: ApplyEvents | None = None,
               stop: threading.Event | None = None, timeout: float | None = None,
               retry_sleep: Callable[[float], None] | None = None) -> ApplyOutcome:
    """Walk the plan's changes through the providers, recording each completion in `store`.
    `timeout` bounds the whole apply (seconds from now): past it nothing new starts, the
    providers end their readiness waits and retries there, and what was left is not_started."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = plan.pending()
    writer: StateWriter = (GroupCommit(store)  # type: ignore[arg-type]
                           if hasattr(store, "write_batch") and parallelism > 1 else store)
    by_addr = {c.address: c for c in pending}
    graph = apply_graph(pending)
    ws = plan.workspace
    counts = {"added": 0, "changed": 0, "destroyed": 0}
    counts_lock = threading.Lock()

    def progress(address: str, message: str) -> None:
        if events:
            events.progress(address, message)

    outages = _Outages()

    def retrying(address: str, provider: str, fn):
        kw = {"on_retry": lambda exc, d: progress(address, f"retrying in {d:.1f}s: {exc.reason}")}
        if retry_sleep is not None:
            kw["sleep"] = retry_sleep
        policy = RETRY.with_attempts(1) if outages.down(provider) else RETRY
        if deadline is not None:
            policy = policy.within(deadline - time.monotonic())
        try:
            result = policy.call(fn, **kw)
        except Unreachable:
            outages.failed(provider)
            raise
        except ProviderError:
            outages.recovered(provider)         # it answered, if only to refuse
            raise
        outages.recovered(provider)
        return result

    def delete(prior: ResourceState, *, defer: bool = False) -> Pending | None:
        provider = providers.get(prior.provider)
        resp = retrying(prior.address, prior.provider,
                        lambda: provider.delete(DeleteRequest(prior=prior, progress=progress,
                                                                 deadline=deadline,
                                                                 defer_wait=defer)))
        _raise_errors(prior.address, "delete", resp.diagnostics)
        return resp.pending

    def create(c: ResourceChange, prior: ResourceState | None,
               replace: bool) -> tuple[ResourceState, Pending | None]:
        provider = providers.get(c.provider)
        resp = retrying(c.address, c.provider,
                        lambda: provider.apply(ApplyRequest(desired=c.desired, prior=prior, live=None,
                                                            replace=replace, progress=progress,
                                                            deadline=deadline, defer_wait=True)))
        _raise_errors(c.address, "apply", resp.diagnostics)
        if resp.state is None:
            raise ProviderError("the provider returned no state", address=c.address,
                                operation="apply")
        return resp.state, resp.pending

    def count(bump: str) -> None:
        with counts_lock:
            counts[bump] += 1

    def then(address: str, op: str, pending: Pending | None,
             record: Callable[[], None]) -> Parked | None:
        """Record now, or once the provider's wait settles (the walk parks the node meanwhile):
        a resource is recorded, and reported finished, only once it is ready or gone."""
        if pending is None:
            record()
            return None

        def resume(err: BaseException | None) -> None:
            if err is not None:
                if isinstance(err, ProviderError):
                    raise err.located(address, op)
                raise err
            record()
        return Parked(pending, resume)

    def work(address: str) -> Parked | None:
        c = by_addr[address]
        op = "delete" if c.action is Action.DELETE else "apply"
        try:
            if c.action is Action.DELETE:
                def removed() -> None:
                    writer.remove_resource(ws, address, lock=lock)
                    count("destroyed")
                return then(address, op, delete(c.prior, defer=True), removed)
            if c.action is Action.REPLACE and c.prior is not None:
                op = "delete"
                delete(c.prior)         # gone before it is made again: the wait is not deferred
                writer.remove_resource(ws, address, lock=lock)
                op = "apply"
            state, pending = create(c, None if c.action is Action.REPLACE else c.prior,
                                    c.action is Action.REPLACE)

            def recorded() -> None:
                writer.put_resource(ws, state, lock=lock)
                if c.action is Action.REPLACE:
                    count("destroyed")
                count("added" if c.action in (Action.CREATE, Action.REPLACE) else "changed")
            return then(address, op, pending, recorded)
        except ProviderError as exc:
            raise exc.located(address, op)  # noqa: B904 - located() chains the cause

    outcome = walk(
        graph, work, parallelism=parallelism, stop=stop, deadline=deadline,
        on_start=(lambda a: events.started(by_addr[a])) if events else None,
        on_end=(lambda a, e, s: events.finished(by_addr[a], e, s)) if events else None,
    )
    return ApplyOutcome(
        added=counts["added"], changed=counts["changed"], destroyed=counts["destroyed"],
        failed=tuple((a, error_line(e)) for a, e in sorted(outcome.failed.items())
                     if not isinstance(e, WaitInterrupted)),
        cut_short=tuple((a, error_line(e)) for a, e in sorted(outcome.failed.items())
                        if isinstance(e, WaitInterrupted)),
        skipped=tuple(sorted(outcome.skipped.items())),
        not_started=outcome.not_started, interrupted=outcome.interrupted,
        timeout=timeout if outcome.timed_out else None)


class _Outages:
    """Providers found unreachable through a whole retry window during this walk.

    Once an operation has spent its retries on a provider that cannot be reached, later operations
    on it get a single attempt: while the outage lasts each fails in moments with the same cause,
    instead of each spending its own retry window (minutes, over hundreds of resources). The first
    success ends the outage.
    """

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._lock = threading.Lock()

    def down(self, provider: str) -> bool:
        with self._lock:
            return provider in self._down

    def failed(self, provider: str) -> None:
        with self._lock:
            self._down.add(provider)

    def recovered(self, provider: str) -> None:
        with self._lock:
            self._down.discard(provider)


def _raise_errors(address: str, op: str, diags) -> None:
    for d in diags:
        if d.severity.value == "error":
            raise ProviderError(d.summary + (f": {d.detail}" if d.detail else ""),
                                address=address, operation=op)
