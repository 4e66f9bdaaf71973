"""The readiness and deletion waits of an apply, kept apart from its writes (kapp's model).

A write that needs a wait hands the object to the provider's watch and returns at once with a
`Pending` (ecpctl/kernel/pending.py): the apply walk's slot goes to the next write while the
rollout goes on. One thread polls every object being waited on:

* one LIST per kind per round for the objects of a kind due to be polled, narrowed to their
  tenants (`ecp.ai/tenant in (...)`, at most read.SCOPE_MAX_TENANTS values per LIST), instead of a
  GET per object per poll; every object of those tenants it finds is seen, due or not;
* a GET for an object that is the only one of its kind due, carries no tenant label, or is missing
  from its LIST (its labels were changed), and for every object of a kind a LIST of was refused;
* each object is polled on its own backoff (0.25 s doubling to 2 s, as ready.wait_ready did), and
  rounds are at least 0.5 s apart, so the requests per second stay bounded however many objects
  are waited on.

Readiness, the timeout and the reason given when it passes are ready.py's, as for a blocking wait.
The thread starts when there is something to wait on and ends when nothing is left.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecpctl.kernel import ProviderError
from ecpctl.kernel.ownership import TENANT_LABEL
from ecpctl.kernel.pending import Pending
from providers.kubernetes import ready as readiness
from providers.kubernetes.client import KubeClient, KubeError
from providers.kubernetes.kinds import MANAGED_BY_SELECTOR, KindInfo
from providers.kubernetes.read import SCOPE_MAX_TENANTS, index, list_objects, with_tenants

ROUND_MIN = 0.5             # seconds between two rounds, at least
Fail = Callable[[KubeError], BaseException]


@dataclass(eq=False)
class _Entry:
    info: KindInfo
    name: str
    namespace: str | None
    tenant: str | None          # set when a LIST narrowed to it would find the object
    gone: bool                  # waiting for it to be deleted (else: to be ready)
    obj: Mapping[str, Any]      # as last seen
    timeout: float
    deadline: float
    cut: bool                   # the deadline is the whole apply's --timeout, not `timeout`
    progress: readiness.Progress | None
    fail: Fail
    pending: Pending = field(default_factory=Pending)
    next_poll: float = 0.0
    delay: float = readiness.POLL_FIRST
    last_msg: str | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        return self.namespace, self.name


def _generation(obj: Mapping[str, Any]) -> int:
    g = (obj.get("metadata") or {}).get("generation")
    return g if isinstance(g, int) else 0


def listable_tenant(obj: Mapping[str, Any]) -> str | None:
    """The tenant to narrow a LIST to for this object: it needs both the tenant label and the
    `managed-by` label the LIST selects on."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    key, _, value = MANAGED_BY_SELECTOR.partition("=")
    tenant = labels.get(TENANT_LABEL)
    if labels.get(key) != value or not isinstance(tenant, str) or not tenant:
        return None
    return tenant


class Watch:
    """The waits of one provider (one cluster)."""

    def __init__(self, client: KubeClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._entries: list[_Entry] = []
        self._thread: threading.Thread | None = None
        self._no_list: set[KindInfo] = set()        # kinds a LIST was refused for (RBAC)

    # --- what the provider hands over ------------------------------------------------------------

    def ready(self, info: KindInfo, obj: Mapping[str, Any], *, timeout: float, until: float | None,
              progress: readiness.Progress | None, fail: Fail) -> Pending:
        """Settles when `obj` (as the write returned it) is ready, or with the error a blocking
        ready.wait_ready would have raised."""
        ok, msg = readiness.check(obj)
        if ok or f"{info.api_version}.{info.kind}" not in readiness.CHECKS:
            return Pending.settled()
        md = obj.get("metadata") or {}
        entry = self._entry(info, md.get("name"), md.get("namespace"), listable_tenant(obj), False,
                            obj, timeout, until, progress, fail)
        entry.last_msg = msg
        if progress is not None:
            progress(msg + "...")
        return self._add(entry, first=readiness.POLL_FIRST)

    def gone(self, info: KindInfo, name: str, namespace: str | None, attributes: Mapping[str, Any],
             *, timeout: float, until: float | None, progress: readiness.Progress | None,
             fail: Fail) -> Pending:
        """Settles when the object (deleted a moment ago; `attributes` as recorded) is gone."""
        entry = self._entry(info, name, namespace, listable_tenant(attributes), True, {},
                            timeout, until, progress, fail)
        return self._add(entry, first=0.0)

    def _entry(self, info, name, namespace, tenant, gone, obj, timeout, until, progress, fail):
        deadline, cut = readiness.give_up(self.clock(), timeout, until)
        return _Entry(info=info, name=name, namespace=namespace, tenant=tenant, gone=gone, obj=obj,
                      timeout=timeout, deadline=deadline, cut=cut, progress=progress, fail=fail)

    def _add(self, entry: _Entry, *, first: float) -> Pending:
        entry.next_poll = min(self.clock() + first, entry.deadline)
        with self._lock:
            self._entries.append(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kube_watch", daemon=True)
                self._thread.start()
        self._wake.set()
        return entry.pending

    def close(self) -> None:
        """Settle what is still waited on with an error: the connection is going away."""
        with self._lock:
            entries, self._entries = self._entries, []
        for e in entries:
            e.pending.settle(ProviderError(f"the connection to the API server was closed while "
                                           f"waiting for {e.info.kind} {e.name}"))
        self._wake.set()

    # --- the thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        last = float("-inf")
        while True:
            with self._lock:
                self._wake.clear()
                entries = [e for e in self._entries if not e.pending.done]
                self._entries = entries
                if not entries:
                    self._thread = None
                    return
                due_at = min(e.next_poll for e in entries)
            wait = max(due_at, last + ROUND_MIN) - self.clock()
            if wait > 0 and self._wake.wait(wait):
                continue                        # something new came: it may be due sooner
            last = self.clock()
            try:
                self._round(entries, last)
            except BaseException as exc:  # noqa: BLE001 - a waiter must never be left unsettled
                for e in entries:
                    e.pending.settle(ProviderError(
                        f"internal error waiting for {e.info.kind} {e.name}: "
                        f"{exc.__class__.__name__}: {exc}"))

    def _round(self, entries: list[_Entry], now: float) -> None:
        """Poll the entries due by `now` (or within the next ROUND_MIN: they join this round rather
        than make one of their own): one LIST per kind, narrowed to their tenants, where it stands
        for two or more GETs, and a GET for the rest. An entry a LIST finds counts as polled, due
        or not, so the entries of a kind stay in step and keep sharing LISTs."""
        due = [e for e in entries if e.next_poll <= now + ROUND_MIN]
        by_kind: dict[KindInfo, list[_Entry]] = defaultdict(list)
        for e in due:
            if e.tenant is not None and e.info not in self._no_list:
                by_kind[e.info].append(e)
        polled: dict[int, _Entry] = {}
        for info, group in by_kind.items():
            if len(group) < 2:
                continue
            tenants = {e.tenant for e in group}
            listed = self._list(info, sorted(tenants))  # type: ignore[arg-type]
            if listed is None:
                continue
            for e in entries:
                if e.info != info or e.tenant not in tenants:
                    continue
                obj = listed.get(e.key)
                if obj is not None:
                    self._observe(e, obj, True)
                elif e.gone:
                    self._observe(e, None, False)   # selected by its labels and not there: gone
                else:
                    continue                        # not found: a GET, if it is due
                polled[id(e)] = e
        for e in due:
            if id(e) not in polled:
                self._observe(e, *self._get(e))
                polled[id(e)] = e
        for e in polled.values():
            if e.pending.done:
                continue
            if self.clock() >= e.deadline:
                e.pending.settle(self._timed_out(e))
                continue
            e.delay = min(readiness.POLL_MAX, e.delay * 2)
            e.next_poll = min(now + e.delay, e.deadline)

    def _list(self, info: KindInfo, tenants: list[str]) -> dict[tuple[str | None, str], dict] | None:
        out: dict[tuple[str | None, str], dict] = {}
        for i in range(0, len(tenants), SCOPE_MAX_TENANTS):
            selector = with_tenants(MANAGED_BY_SELECTOR, frozenset(tenants[i:i + SCOPE_MAX_TENANTS]))
            try:
                objects = list_objects(self.client, info, selector=selector)
            except KubeError as exc:
                if not exc.retryable:
                    self._no_list.add(info)     # e.g. not allowed cluster-wide: GETs from now on
                return None
            out.update(index(objects))
        return out

    def _get(self, e: _Entry) -> tuple[Mapping[str, Any] | None, bool]:
        try:
            obj = self.client.request("GET", e.info.object_path(e.name, e.namespace), verb="get")
        except KubeError as exc:
            if exc.not_found and e.gone:
                return None, False
            if exc.retryable:
                return e.obj, True              # try again next time, from what was last seen
            e.pending.settle(e.fail(exc))
            return None, False
        return obj or e.obj, True

    def _observe(self, e: _Entry, obj: Mapping[str, Any] | None, found: bool) -> None:
        if e.pending.done:
            return
        if e.gone:
            if not found:
                e.pending.settle()
                return
            e.obj = obj or {}
            msg = readiness.deleting_message(e.obj)
        else:
            if obj is not None and _generation(obj) >= _generation(e.obj):
                e.obj = obj             # (never one older than the write: its status is the old spec's)
            ok, msg = readiness.check(e.obj)
            if ok:
                e.pending.settle()
                return
        if msg != e.last_msg and e.progress is not None:
            e.progress(msg + "...")
        e.last_msg = msg

    def _timed_out(self, e: _Entry) -> BaseException:
        if e.gone:
            return readiness.gone_timeout(e.info, e.name, e.obj, e.timeout, e.cut)
        try:
            return readiness.ready_timeout(self.client, e.info, e.obj, e.timeout, e.cut)
        except KubeError as exc:
            return e.fail(exc)
