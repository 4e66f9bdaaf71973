"""Readiness per kind, waiting with progress, and the reason a wait timed out (from pods and events)."""

from __future__ import annotations

import re
import time
from typing import Any
from collections.abc import Callable, Mapping

from ecpctl.kernel import ProviderError
from providers.kubernetes.client import KubeClient, KubeError
from providers.kubernetes.kinds import KindInfo, builtin
from providers.kubernetes.read import list_objects

POLL_FIRST = 0.25
POLL_MAX = 2.0
Progress = Callable[[str], None]


def _cond(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return c
    return None


def _generation_seen(obj: Mapping[str, Any]) -> bool:
    gen = (obj.get("metadata") or {}).get("generation")
    seen = (obj.get("status") or {}).get("observedGeneration")
    return gen is None or (seen is not None and seen >= gen)


def _deployment(obj) -> tuple[bool, str]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    updated, available = st.get("updatedReplicas", 0), st.get("availableReplicas", 0)
    total = st.get("replicas", 0)
    if not _generation_seen(obj):
        return False, "waiting for the deployment controller to see the new generation"
    if updated < want:
        return False, f"waiting for rollout: {updated}/{want} replicas updated, {available} available"
    if total > updated:
        return False, f"waiting for rollout: {total - updated} old replicas pending termination"
    if available < want:
        return False, f"waiting for {available}/{want} replicas available"
    return True, f"{available}/{want} replicas available"


def _statefulset(obj) -> tuple[bool, str]:
    want = (obj.get("spec") or {}).get("replicas", 1)
    ready = (obj.get("status") or {}).get("readyReplicas", 0)
    if not _generation_seen(obj):
        return False, "waiting for the statefulset controller to see the new generation"
    if ready < want:
        return False, f"waiting for {ready}/{want} replicas ready"
    return True, f"{ready}/{want} replicas ready"


def _daemonset(obj) -> tuple[bool, str]:
    st = obj.get("status") or {}
    want, ready = st.get("desiredNumberScheduled", 0), st.get("numberReady", 0)
    if not _generation_seen(obj) or ready < want:
        return False, f"waiting for {ready}/{want} pods ready"
    return True, f"{ready}/{want} pods ready"


def _namespace(obj) -> tuple[bool, str]:
    phase = (obj.get("status") or {}).get("phase")
    return phase == "Active", f"namespace is {phase or 'not yet active'}"


def _crd(obj) -> tuple[bool, str]:
    c = _cond(obj, "Established")
    if c and c.get("status") == "True":
        return True, "established"
    names = _cond(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return False, f"names not accepted: {names.get('message', '')}"
    return False, "waiting for the CRD to be established"


def _pdb(obj) -> tuple[bool, str]:
    if _generation_seen(obj):
        return True, "observed"
    return False, "waiting for the disruption controller"


def _hpa(obj) -> tuple[bool, str]:
    # Without a metrics server, ScalingActive stays False; the HPA still guards minReplicas.
    return True, "created"


CHECKS: dict[str, Callable[[Mapping[str, Any]], tuple[bool, str]]] = {
    "apps/v1.Deployment": _deployment,
    "apps/v1.StatefulSet": _statefulset,
    "apps/v1.DaemonSet": _daemonset,
    "v1.Namespace": _namespace,
    "apiextensions.k8s.io/v1.CustomResourceDefinition": _crd,
    "policy/v1.PodDisruptionBudget": _pdb,
    "autoscaling/v2.HorizontalPodAutoscaler": _hpa,
}


def check(obj: Mapping[str, Any]) -> tuple[bool, str]:
    fn = CHECKS.get(f"{obj.get('apiVersion')}.{obj.get('kind')}")
    return fn(obj) if fn else (True, "")


def give_up(start: float, timeout: float, until: float | None) -> tuple[float, bool]:
    """When a wait of `timeout` seconds from `start` ends, and whether the whole apply's deadline
    (`until`, on the same clock) ends it first."""
    if until is not None and until < start + timeout:
        return until, True
    return start + timeout, False


def _timed_out(timeout: float, cut: bool) -> str:
    return "the apply's --timeout passed" if cut else f"timed out after {timeout:g}s"


def wait_ready(client: KubeClient, info: KindInfo, obj: Mapping[str, Any], *, timeout: float,
               until: float | None = None, progress: Progress | None = None,
               sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> Mapping[str, Any]:
    """Poll the object until its kind's readiness holds; ProviderError naming the reason after
    `timeout` seconds, or at `until` (the whole apply's deadline) if that comes first."""
    key = f"{info.api_version}.{info.kind}"
    if key not in CHECKS:
        return obj
    md = obj.get("metadata") or {}
    name, ns = md.get("name"), md.get("namespace")
    start = clock()
    deadline, cut = give_up(start, timeout, until)
    delay = POLL_FIRST
    last_msg = None
    cur = obj
    while True:
        ready, msg = check(cur)
        if ready:
            return cur
        if msg != last_msg and progress is not None:
            progress(msg + "...")
            last_msg = msg
        if clock() >= deadline:
            break
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(POLL_MAX, delay * 2)
        try:
            cur = client.request("GET", info.object_path(name, ns), verb="get") or cur
        except KubeError as exc:
            if not exc.retryable:
                raise
    raise ready_timeout(client, info, cur, timeout, cut)


def ready_timeout(client: KubeClient, info: KindInfo, cur: Mapping[str, Any], timeout: float,
                  cut: bool) -> ProviderError:
    """The error of a readiness wait that ended, `cur` as last seen: what it waited for and why
    it is not ready (from its pods and their events)."""
    _, msg = check(cur)
    reason = explain(client, cur)
    summary = msg.removeprefix("waiting for ")
    name = (cur.get("metadata") or {}).get("name")
    text = f"{_timed_out(timeout, cut)} waiting for {info.kind} {name}: {summary}"
    if reason:
        text += f"; {reason}"
    return ProviderError(text)


# --- why is it not ready? -----------------------------------------------------------------------

def _scheduler_message(message: str) -> str:
    """`0/3 nodes are available: 3 Insufficient nvidia.com/gpu.` without what follows the reasons
    (`no new claims to deallocate, preemption: 0/3 nodes are available: ...`)."""
    head = message.split(" preemption:")[0].strip()
    if re.match(r"^\d+/\d+ nodes are available", head) and ". " in head:
        head = head.split(". ")[0] + "."
    return head


def pod_problem(pod: Mapping[str, Any]) -> str | None:
    """One line saying why a pod is not ready, or None when it is."""
    st = pod.get("status") or {}
    phase = st.get("phase") or "Unknown"
    sched = _cond(pod, "PodScheduled")
    if sched is not None and sched.get("status") == "False":
        why = sched.get("message") or sched.get("reason") or "unschedulable"
        return f"{phase}: {_scheduler_message(why)}"
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            detail = f": {waiting['message']}" if waiting.get("message") else ""
            return f"{phase}: container {cs.get('name')} {waiting['reason']}{detail}"
        term = (cs.get("state") or {}).get("terminated")
        if term and term.get("exitCode"):
            return (f"{phase}: container {cs.get('name')} exited with {term.get('exitCode')} "
                    f"({term.get('reason', '')})")
    ready = _cond(pod, "Ready")
    if phase == "Running" and ready is not None and ready.get("status") == "True":
        return None
    if phase == "Pending":
        return "Pending"
    if phase == "Running":
        return "Running: not ready" + (f" ({ready.get('message')})" if ready and ready.get("message") else "")
    return phase


def _selector(obj: Mapping[str, Any]) -> str | None:
    sel = (obj.get("spec") or {}).get("selector") or {}
    labels = sel.get("matchLabels") if isinstance(sel, Mapping) else None
    if not labels:
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _warning_events(client: KubeClient, namespace: str, name: str) -> str | None:
    info = builtin("v1", "Event")
    assert info is not None
    events = list_objects(client, info, selector=None, namespace=namespace,
                          field_selector=f"involvedObject.name={name},type=Warning")
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    if events:
        e = events[-1]
        return f"{e.get('reason')}: {_scheduler_message(e.get('message') or '')}"
    return None


def pods_of(client: KubeClient, obj: Mapping[str, Any]) -> list[dict]:
    sel = _selector(obj)
    ns = (obj.get("metadata") or {}).get("namespace")
    if not sel or not ns:
        return []
    info = builtin("v1", "Pod")
    assert info is not None
    pods = list_objects(client, info, selector=sel, namespace=ns)
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


def explain_pods(client: KubeClient | None, pods: list[dict], *, events: bool = True) -> list[str]:
    """Distinct problems, first pod named: `pod x Pending: 0/3 nodes ... (and 2 more pods)`."""
    seen: dict[str, list[str]] = {}
    for p in sorted(pods, key=lambda p: (p.get("metadata") or {}).get("name", "")):
        problem = pod_problem(p)
        if problem is None:
            continue
        name = (p.get("metadata") or {}).get("name", "?")
        if problem in ("Pending", "Running: not ready") and events and client is not None:
            try:
                ev = _warning_events(client, (p.get("metadata") or {}).get("namespace"), name)
            except KubeError:
                ev = None
            if ev:
                problem = f"{problem}: {ev}"
        seen.setdefault(problem, []).append(name)
    out = []
    for problem, names in seen.items():
        more = f" (and {len(names) - 1} more pod{'s' if len(names) > 2 else ''})" if len(names) > 1 else ""
        out.append(f"pod {names[0]} {problem}{more}")
    return out


def explain(client: KubeClient, obj: Mapping[str, Any]) -> str:
    """Why a workload is not ready, from its conditions, its pods and their events."""
    parts: list[str] = []
    failure = _cond(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        parts.append(f"{failure.get('reason', 'ReplicaFailure')}: {failure.get('message', '')}".strip())
    try:
        if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
            parts.extend(explain_pods(client, pods_of(client, obj))[:3])
        elif obj.get("kind") == "Namespace":
            for c in (obj.get("status") or {}).get("conditions") or ():
                if c.get("status") == "True":
                    parts.append(f"{c.get('type')}: {c.get('message', '')}")
    except KubeError as exc:
        parts.append(f"(could not read pods: {exc.reason})")
    if not parts:
        prog = _cond(obj, "Progressing")
        if prog is not None and prog.get("message"):
            parts.append(prog["message"])
    return "; ".join(parts)


def wait_gone(client: KubeClient, info: KindInfo, name: str, namespace: str | None, *,
              timeout: float, until: float | None = None, progress: Progress | None = None,
              sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.monotonic) -> None:
    """Poll until the object is gone (404); ProviderError naming what holds it after `timeout`
    seconds, or at `until` (the whole apply's deadline) if that comes first."""
    deadline, cut = give_up(clock(), timeout, until)
    delay = POLL_FIRST
    last_msg = None
    obj: Mapping[str, Any] = {}
    while True:
        try:
            obj = client.request("GET", info.object_path(name, namespace), verb="get") or {}
        except KubeError as exc:
            if exc.not_found:
                return
            if not exc.retryable:
                raise
        msg = deleting_message(obj)
        if progress is not None and msg != last_msg:
            progress(msg + "...")
            last_msg = msg
        if clock() >= deadline:
            break
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(POLL_MAX, delay * 2)
    raise gone_timeout(info, name, obj, timeout, cut)


def gone_timeout(info: KindInfo, name: str, obj: Mapping[str, Any], timeout: float,
                 cut: bool) -> ProviderError:
    """The error of a deletion wait that ended, `obj` as last seen: what still holds it."""
    return ProviderError(f"{_timed_out(timeout, cut)} waiting for {info.kind} {name} to be deleted: "
                         f"{deleting_message(obj).removeprefix('waiting for ')}")


def deleting_message(obj: Mapping[str, Any]) -> str:
    finalizers = list((obj.get("metadata") or {}).get("finalizers") or ())
    if obj.get("kind") == "Namespace":
        finalizers += list((obj.get("spec") or {}).get("finalizers") or ())
    if obj.get("kind") == "Namespace":
        for c in (obj.get("status") or {}).get("conditions") or ():
            if c.get("type") == "NamespaceContentRemaining" and c.get("status") == "True":
                return f"waiting for the namespace to empty ({c.get('message', '')})"
    if finalizers:
        return f"waiting for finalizers {', '.join(finalizers)}"
    return "waiting for deletion"
