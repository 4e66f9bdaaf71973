"""The human plan view: Terraform-like symbols, nested per-attribute diffs, colour when allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable

from rich.console import Console
from rich.text import Text

from ecpctl.kernel.diagnostics import Diagnostic, has_errors
from ecpctl.kernel.paths import REDACTED, is_sensitive
from ecpctl.plan import Action, ActionReason, Plan, ResourceChange
from ecpctl.views.values import embedded_json, is_container, scalar

STYLE = {"+": "green", "-": "red", "~": "yellow", "-/+": "red", " ": ""}
HEADLINE = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in-place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
}
_MISSING = object()


class _Writer:
    def __init__(self) -> None:
        self.lines: list[Text] = []

    def line(self, indent: int, symbol: str, body: str, style_symbol: str | None = None) -> None:
        t = Text(" " * indent)
        if symbol:
            t.append(symbol, style=STYLE.get(style_symbol or symbol, ""))
            t.append(" ")
        t.append(body)
        self.lines.append(t)


def _sens(path: tuple, sensitive: Iterable[str]) -> bool:
    return bool(path) and is_sensitive(path, sensitive)


def _key(k: Any) -> str:
    return str(k) if isinstance(k, str) and k.replace("_", "a").replace("-", "a").isalnum() \
        else scalar(str(k))


def _whole(w: _Writer, indent: int, symbol: str, label: str, value: Any, path: tuple,
           sensitive: tuple[str, ...]) -> None:
    """Print a whole value (for create/destroy), recursing into containers."""
    prefix = f"{label} = " if label else ""
    if _sens(path, sensitive):
        w.line(indent, symbol, f"{prefix}{REDACTED}")
        return
    doc = embedded_json(value)
    if doc is not None:
        w.line(indent, symbol, prefix + "jsonencode(")
        _whole(w, indent + 4, symbol, "", doc, path, sensitive)
        w.line(indent + 2, "", ")")
        return
    if isinstance(value, dict) and value:
        w.line(indent, symbol, prefix + "{")
        for k in value:
            _whole(w, indent + 4, symbol, _key(k), value[k], path + (k,), sensitive)
        w.line(indent + 2, "", "}")
    elif isinstance(value, list) and value:
        w.line(indent, symbol, prefix + "[")
        for i, item in enumerate(value):
            _whole(w, indent + 4, symbol, "", item, path + (i,), sensitive)
        w.line(indent + 2, "", "]")
    else:
        w.line(indent, symbol, prefix + scalar(value))


def _mapping_delta(w: _Writer, indent: int, before: dict, after: dict, path: tuple,
                   sensitive: tuple[str, ...]) -> int:
    """Print the keys whose values differ; return how many were unchanged."""
    unchanged = 0
    for k in list(before) + [k for k in after if k not in before]:
        b, a = before.get(k, _MISSING), after.get(k, _MISSING)
        if b == a:
            unchanged += 1
            continue
        _delta(w, indent, _key(k), b, a, path + (k,), sensitive)
    return unchanged


def _hidden(w: _Writer, indent: int, unchanged: int) -> None:
    if unchanged:
        w.line(indent, "", f"# ({unchanged} unchanged attribute{'s' if unchanged != 1 else ''} hidden)")


def _delta(w: _Writer, indent: int, label: str, before: Any, after: Any, path: tuple,
           sensitive: tuple[str, ...]) -> None:
    """Print only what differs between before and after, nested."""
    prefix = f"{label} = " if label else ""
    if before is _MISSING:
        _whole(w, indent, "+", label, after, path, sensitive)
        return
    if after is _MISSING:
        _whole(w, indent, "-", label, before, path, sensitive)
        return
    if before == after:
        return
    if _sens(path, sensitive):
        w.line(indent, "~", f"{prefix}{REDACTED}")
        return
    if isinstance(before, dict) and isinstance(after, dict):
        w.line(indent, "~", prefix + "{")
        _hidden(w, indent + 6, _mapping_delta(w, indent + 4, before, after, path, sensitive))
        w.line(indent + 2, "", "}")
        return
    if isinstance(before, list) and isinstance(after, list):
        w.line(indent, "~", prefix + "[")
        unchanged = 0
        for i in range(max(len(before), len(after))):
            b = before[i] if i < len(before) else _MISSING
            a = after[i] if i < len(after) else _MISSING
            if b == a:
                unchanged += 1
                continue
            _delta(w, indent + 4, "", b, a, path + (i,), sensitive)
        if unchanged:
            w.line(indent + 6, "", f"# ({unchanged} unchanged element{'s' if unchanged != 1 else ''} hidden)")
        w.line(indent + 2, "", "]")
        return
    jb, ja = embedded_json(before), embedded_json(after)
    if jb is not None and ja is not None:
        # JSON text in a string (a dashboard in a ConfigMap): diff the documents it holds
        w.line(indent, "~", prefix + "jsonencode(")
        _delta(w, indent + 4, "", jb, ja, path, sensitive)
        w.line(indent + 2, "", ")")
        return
    if is_container(before) or is_container(after):
        _whole(w, indent, "-", label, before, path, sensitive)
        _whole(w, indent, "+", label, after, path, sensitive)
        return
    w.line(indent, "~", f"{prefix}{scalar(before)} -> {scalar(after)}")


def render_change(c: ResourceChange) -> list[Text]:
    w = _Writer()
    head = Text(f"  # {c.address} {HEADLINE[c.action]}", style="bold")
    w.lines.append(head)
    if c.reason and c.action_reason is not ActionReason.CREATE_NOT_IN_STATE:
        w.lines.append(Text(f"  # ({c.reason})"))
    sym = c.action.symbol
    w.line(2, sym, f'resource "{c.type}" "{c.name}" {{')
    sens = tuple(c.sensitive)
    if c.action is Action.CREATE:
        for k, v in (c.after or {}).items():
            _whole(w, 6, "+", _key(k), v, (k,), sens)
    elif c.action is Action.DELETE:
        for k, v in (c.before or {}).items():
            _whole(w, 6, "-", _key(k), v, (k,), sens)
    else:
        unchanged = _mapping_delta(w, 6, c.before or {}, c.after or {}, (), sens)
        if c.action is Action.REPLACE and c.requires_replace:
            w.line(8, "", "# forces replacement: " + ", ".join(c.requires_replace))
        _hidden(w, 8, unchanged)
    w.line(4, "", "}")
    return w.lines


def render_resource(rtype: str, name: str, attributes: dict, sensitive: tuple[str, ...]) -> list[Text]:
    """A recorded resource as a block, without change symbols (`ecpctl show`)."""
    w = _Writer()
    w.line(0, "", f'resource "{rtype}" "{name}" {{')
    for k, v in attributes.items():
        _whole(w, 2, " ", _key(k), v, (k,), sensitive)
    w.line(0, "", "}")
    return w.lines


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return f"Plan: {s.add} to add, {s.change} to change, {s.destroy} to destroy."


def target_lines(plan: Plan) -> list[str]:
    """Where each provider points, as the header of a plan that has changes."""
    from ecpctl.targets import describe
    if not plan.provider_targets:
        return []
    return (["Targets:"] + [f"  {name:<12} {describe(t)}"
                            for name, t in sorted(plan.provider_targets.items())] + [""])


def render_plan(plan: Plan, con: Console, *, full: bool = False) -> None:
    """The plan: every change in full, or above SUMMARY_ABOVE changes a summary (views/
    plan_summary.py) unless `full`. Written through LineWriter: rich's layout of each line was
    most of the cost of printing a large plan."""
    from ecpctl.views.lines import LineWriter
    from ecpctl.views.plan_summary import summarized, summary_lines
    pending = plan.pending()
    if not pending:
        con.print(Text("No changes.", style="bold green"), end=" ")
        con.print("Your tenants match the configuration." if not plan.destroy
                  else "No objects need to be destroyed.")
        return
    out = LineWriter(con)
    out.write(target_lines(plan))
    if summarized(pending, full):
        out.write(summary_lines(pending))
    else:
        out.write(["ecpctl will perform the following actions:", ""])
        for c in pending:
            out.write(render_change(c))
            out.write([""])
    out.line(summary_line(plan), style="bold")


class PlanHumanView:
    """`plan` and `show PLANFILE` for people: diagnostics on stderr (through `report`), then the
    plan unless it has errors, then where it was saved."""

    def __init__(self, con: Console, report: Callable[[Iterable[Diagnostic]], None], *,
                 full: bool = False):
        self.con = con
        self._report = report
        self.full = full            # every attribute of every change, however many

    def plan(self, plan: Plan, *, saved_to: Path | None = None) -> None:
        if plan.diagnostics:
            self._report(plan.diagnostics)
        if has_errors(plan.diagnostics):
            return
        render_plan(plan, self.con, full=self.full)
        if saved_to is not None:
            self.con.print(f"\nSaved the plan to: {saved_to}\nTo perform exactly these actions, "
                           f"run: ecpctl apply {saved_to}")
