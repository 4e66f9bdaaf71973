"""Progress and summary lines of apply and destroy, Terraform style, with a heartbeat for long waits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import click
from rich.console import Console
from rich.text import Text

from ecpctl.applier import ApplyOutcome, error_line
from ecpctl.kernel.diagnostics import Diagnostic
from ecpctl.plan import Action, Plan, ResourceChange
from ecpctl.views.plan_human import render_plan
from ecpctl.views.heartbeat import INTERVAL, Heartbeat
from ecpctl.views.lines import LineWriter

VERB = {Action.CREATE: ("Creating...", "Creation complete"),
        Action.UPDATE: ("Modifying...", "Modifications complete"),
        Action.REPLACE: ("Replacing...", "Replacement complete"),
        Action.DELETE: ("Destroying...", "Destruction complete")}
STILL = {Action.CREATE: "Still creating...", Action.UPDATE: "Still modifying...",
         Action.REPLACE: "Still replacing...", Action.DELETE: "Still destroying..."}


class ProgressView:
    """Implements ApplyEvents: one line when a resource starts, one when it ends (with elapsed
    time), and `<address>: Still creating... [20s elapsed]` every 10 s while it runs."""

    def __init__(self, con: Console, *, interval: float = INTERVAL, clock=None):
        self.con = con
        self._out = LineWriter(con)      # two lines per object: rich's layout of each was costly
        self._lock = threading.Lock()
        kw = {"clock": clock} if clock is not None else {}
        self.heartbeat = Heartbeat(self._still, interval=interval, **kw)

    def _still(self, change: ResourceChange, elapsed: float) -> None:
        self._print(Text(f"{change.address}: {STILL[change.action]} [{elapsed:.0f}s elapsed]"))

    def close(self) -> None:
        self.heartbeat.close()

    def _print(self, text: Text) -> None:
        with self._lock:
            self._out.line(text)

    def started(self, change: ResourceChange) -> None:
        self._print(Text(f"{change.address}: {VERB[change.action][0]}"))
        self.heartbeat.started(change)

    def progress(self, address: str, message: str) -> None:
        self._print(Text(f"{address}: {message}", style="dim"))

    def finished(self, change: ResourceChange, error: BaseException | None, seconds: float) -> None:
        self.heartbeat.finished(change)
        if error is None:
            self._print(Text(f"{change.address}: {VERB[change.action][1]} after {seconds:.1f}s"))
        else:
            self._print(Text(f"{change.address}: failed after {seconds:.1f}s", style="red"))


def render_outcome(outcome: ApplyOutcome, con: Console, *, destroy: bool = False) -> None:
    for address, message in outcome.failed:
        con.print(Text("Error: ", style="bold red"), end="")
        con.print(Text(f"{address}: {message}"))
    for address, cause in outcome.skipped:
        con.print(Text(f"Skipped {address}: depends on failed {cause}", style="yellow"))
    if outcome.timed_out:
        for address in outcome.not_started:
            con.print(Text("Error: ", style="bold red"), end="")
            con.print(Text(f"{address}: {outcome.late_reason()}"))
    for address, message in outcome.cut_short:
        con.print(Text(f"Interrupted: {address}: {message}", style="yellow"))
    if outcome.interrupted:
        con.print(Text(f"Interrupted: {len(outcome.not_started)} resources were not started; "
                       "state was saved.", style="yellow"))
    counts = f"Resources: {outcome.added} added, {outcome.changed} changed, {outcome.destroyed} destroyed."
    if outcome.ok:
        word = "Destroy" if destroy else "Apply"
        con.print(Text(f"{word} complete! {counts}", style="bold green"))
    else:
        extra = f" {len(outcome.failed)} failed, {len(outcome.skipped)} skipped."
        if outcome.timed_out:
            extra += f" {len(outcome.not_started)} not started."
        con.print(Text(f"Apply failed! {counts}{extra}", style="bold red"))


class ApplyHumanView(ProgressView):
    """apply and destroy for people: the plan, the progress lines with their heartbeat, the
    outcome. Diagnostics go to `report` (the CLI's one-line-per-problem printer, on stderr)."""

    def __init__(self, con: Console, report: Callable[[Iterable[Diagnostic]], None], *,
                 full: bool = False, **kw):
        super().__init__(con, **kw)
        self._report = report
        self.full = full            # the plan shown before applying: every attribute, however many

    def version(self) -> None:
        pass

    def diagnostics(self, diags: Iterable[Diagnostic]) -> None:
        diags = tuple(diags)
        if diags:
            self._report(diags)

    def planned(self, plan: Plan) -> None:
        render_plan(plan, self.con, full=self.full)

    def interrupted(self) -> None:
        click.echo("\nInterrupt received: letting running writes finish (readiness waits end "
                   "now)...", err=True)

    def outcome(self, outcome: ApplyOutcome, *, destroy: bool) -> None:
        self.con.print()
        render_outcome(outcome, self.con, destroy=destroy)

    def no_changes(self, *, destroy: bool) -> None:
        pass


__all__ = ["ProgressView", "ApplyHumanView", "render_outcome", "error_line"]
