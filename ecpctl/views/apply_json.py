"""The machine-readable UI of apply and destroy (`--json`): one JSON object per line, written as
things happen, like Terraform's `-json` stream (docs/json-output.md).

Every message has `@level`, `@message`, `@module`, `@timestamp` and `type`: version,
planned_change, change_summary, apply_start, apply_progress, apply_complete, apply_errored,
diagnostic. The same applier events feed the human progress view.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any
from collections.abc import Callable, Iterable

import click

from ecpctl import __version__
from ecpctl.applier import ApplyOutcome
from ecpctl.kernel.diagnostics import Diagnostic, Severity
from ecpctl.plan import Action, Plan, ResourceChange
from ecpctl.views.apply_human import STILL, VERB
from ecpctl.views.envelope import FORMAT_VERSION, diagnostic_json
from ecpctl.views.heartbeat import INTERVAL, Heartbeat

MODULE = "ecpctl.ui"
ACTION = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "replace",
          Action.DELETE: "delete", Action.NOOP: "noop"}
PLANNED = {Action.CREATE: "Plan to create", Action.UPDATE: "Plan to update",
           Action.REPLACE: "Plan to replace", Action.DELETE: "Plan to delete"}
ERRORED = {Action.CREATE: "Creation errored", Action.UPDATE: "Modifications errored",
           Action.REPLACE: "Replacement errored", Action.DELETE: "Destruction errored"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def resource_json(c: ResourceChange) -> dict[str, Any]:
    return {"addr": c.address, "provider": c.provider, "resource_type": c.type,
            "resource_name": c.name, "tenant": c.tenant}


def _change(c: ResourceChange) -> dict[str, Any]:
    return {"resource": resource_json(c), "action": ACTION[c.action], "reason": c.reason or None,
            "action_reason": c.action_reason.value if c.action_reason else None}


class ApplyJsonView:
    """Writes the stream; implements the applier's ApplyEvents (started, progress, finished)."""

    def __init__(self, write: Callable[[str], None] | None = None, *, interval: float = INTERVAL,
                 clock=None, report: Callable[[Iterable[Diagnostic]], None] | None = None):
        self._write = write or (lambda line: click.echo(line))
        self._report = report      # error diagnostics, one line each on stderr as well
        self._lock = threading.Lock()
        self._running: dict[str, ResourceChange] = {}
        kw = {"clock": clock} if clock is not None else {}
        self.heartbeat = Heartbeat(self._beat, interval=interval, **kw)

    def emit(self, type_: str, message: str, level: str = "info", **body: Any) -> None:
        doc = {"@level": level, "@message": message, "@module": MODULE, "@timestamp": _now(),
               "type": type_, **body}
        line = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._write(line)

    # --- before the walk ---------------------------------------------------------------------

    def version(self) -> None:
        self.emit("version", f"ecpctl {__version__}", ecpctl=__version__, ui=FORMAT_VERSION)

    def diagnostics(self, diags: Iterable[Diagnostic]) -> None:
        diags = tuple(diags)
        errors = [d for d in diags if d.severity is Severity.ERROR]
        if errors and self._report is not None:
            self._report(errors)
        for d in diags:
            label = "Error" if d.severity is Severity.ERROR else "Warning"
            self.emit("diagnostic", f"{label}: {d.one_line()}",
                      level="error" if d.severity is Severity.ERROR else "warn",
                      diagnostic=diagnostic_json(d))

    def planned(self, plan: Plan) -> None:
        for c in plan.pending():
            self.emit("planned_change", f"{c.address}: {PLANNED[c.action]}", change=_change(c))
        s = plan.summary
        message = (f"Plan: {s.add} to add, {s.change} to change, {s.destroy} to destroy."
                   if plan.has_changes else "No changes.")
        self.emit("change_summary", message, changes={"add": s.add, "change": s.change,
                                                      "remove": s.destroy, "operation": "plan"})

    # --- ApplyEvents -------------------------------------------------------------------------

    def started(self, change: ResourceChange) -> None:
        with self._lock:
            self._running[change.address] = change
        self.emit("apply_start", f"{change.address}: {VERB[change.action][0]}",
                  hook={"resource": resource_json(change), "action": ACTION[change.action]})
        self.heartbeat.started(change)

    def progress(self, address: str, message: str) -> None:
        with self._lock:
            change = self._running.get(address)
        hook: dict[str, Any] = {"message": message}
        if change is not None:
            hook = {"resource": resource_json(change), "action": ACTION[change.action], **hook}
        else:
            hook = {"resource": {"addr": address}, **hook}
        self.emit("apply_progress", f"{address}: {message}", hook=hook)

    def _beat(self, change: ResourceChange, elapsed: float) -> None:
        self.emit("apply_progress",
                  f"{change.address}: {STILL[change.action]} [{elapsed:.0f}s elapsed]",
                  hook={"resource": resource_json(change), "action": ACTION[change.action],
                        "elapsed_seconds": int(elapsed)})

    def finished(self, change: ResourceChange, error: BaseException | None, seconds: float) -> None:
        self.heartbeat.finished(change)
        with self._lock:
            self._running.pop(change.address, None)
        hook = {"resource": resource_json(change), "action": ACTION[change.action],
                "elapsed_seconds": round(seconds, 1)}
        if error is None:
            self.emit("apply_complete",
                      f"{change.address}: {VERB[change.action][1]} after {seconds:.1f}s", hook=hook)
        else:
            self.emit("apply_errored",
                      f"{change.address}: {ERRORED[change.action]} after {seconds:.1f}s",
                      level="error", hook=hook)

    # --- after the walk ----------------------------------------------------------------------

    def interrupted(self) -> None:
        text = "interrupt received: letting running writes finish (readiness waits end now)"
        self.emit("diagnostic", f"Warning: {text}", level="warn",
                  diagnostic=diagnostic_json(Diagnostic.warning(text)))

    def outcome(self, outcome: ApplyOutcome, *, destroy: bool) -> None:
        diags = [Diagnostic.error(message, address=address) for address, message in outcome.failed]
        diags += [Diagnostic.warning(f"skipped: depends on failed {cause}", address=address)
                  for address, cause in outcome.skipped]
        if outcome.timed_out:
            diags += [Diagnostic.error(outcome.late_reason(), address=address)
                      for address in outcome.not_started]
        diags += [Diagnostic.warning(message, address=address)
                  for address, message in outcome.cut_short]
        if outcome.interrupted:
            diags.append(Diagnostic.warning(f"interrupted: {len(outcome.not_started)} resources "
                                            "were not started; state was saved"))
        self.diagnostics(diags)
        counts = (f"Resources: {outcome.added} added, {outcome.changed} changed, "
                  f"{outcome.destroyed} destroyed.")
        if outcome.ok:
            message = f"{'Destroy' if destroy else 'Apply'} complete! {counts}"
        else:
            message = (f"Apply failed! {counts} {len(outcome.failed)} failed, "
                       f"{len(outcome.skipped)} skipped.")
            if outcome.timed_out:
                message += f" {len(outcome.not_started)} not started."
        self.emit("change_summary", message, level="info" if outcome.ok else "error",
                  changes={"add": outcome.added, "change": outcome.changed,
                           "remove": outcome.destroyed,
                           "operation": "destroy" if destroy else "apply"})

    def no_changes(self, *, destroy: bool) -> None:
        word = "Destroy" if destroy else "Apply"
        self.emit("change_summary", f"{word} complete! Resources: 0 added, 0 changed, 0 destroyed.",
                  changes={"add": 0, "change": 0, "remove": 0,
                           "operation": "destroy" if destroy else "apply"})

    def close(self) -> None:
        self.heartbeat.close()
