"""Progress and summary lines of apply and destroy, Terraform style."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.text import Text

from ecpctl.applier import ApplyOutcome, error_line
from ecpctl.plan import Action, ResourceChange

VERB = {Action.CREATE: ("Creating...", "Creation complete"),
        Action.UPDATE: ("Modifying...", "Modifications complete"),
        Action.REPLACE: ("Replacing...", "Replacement complete"),
        Action.DELETE: ("Destroying...", "Destruction complete")}


class ProgressView:
    """Implements ApplyEvents: one line when a resource starts, one when it ends (with elapsed time)."""

    def __init__(self, con: Console):
        self.con = con
        self._lock = threading.Lock()

    def _print(self, text: Text) -> None:
        with self._lock:
            self.con.print(text)

    def started(self, change: ResourceChange) -> None:
        self._print(Text(f"{change.address}: {VERB[change.action][0]}"))

    def progress(self, address: str, message: str) -> None:
        self._print(Text(f"{address}: {message}", style="dim"))

    def finished(self, change: ResourceChange, error: BaseException | None, seconds: float) -> None:
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
    if outcome.interrupted:
        con.print(Text(f"Interrupted: {len(outcome.not_started)} resources were not started; "
                       "state was saved.", style="yellow"))
    counts = f"Resources: {outcome.added} added, {outcome.changed} changed, {outcome.destroyed} destroyed."
    if outcome.ok:
        word = "Destroy" if destroy else "Apply"
        con.print(Text(f"{word} complete! {counts}", style="bold green"))
    else:
        extra = f" {len(outcome.failed)} failed, {len(outcome.skipped)} skipped."
        con.print(Text(f"Apply failed! {counts}{extra}", style="bold red"))


__all__ = ["ProgressView", "render_outcome", "error_line"]
