"""The plan of a large change, summarized: what a reviewer of a 10,000-object apply reads.

Above `SUMMARY_ABOVE` pending changes the human plan view prints this instead of every attribute
of every object (a cold apply of 100 tenants was 4.6 MB of text): the count of each action per
provider and kind, the tenants concerned, and one line for each change to something that exists
already (updates, replacements, destructions, with their reason), since those are what can hurt.
Creations are counted, not listed. `--full` prints the whole plan; `--json` and saved plans are
always complete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.text import Text

from ecpctl.plan import Action, ResourceChange

SUMMARY_ABOVE = 100          # pending changes; at or below it every change is shown in full
TENANTS_NAMED = 20           # tenants named in the summary's tenants line before "and N more"

_ACTIONS = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
_HEAD = {Action.CREATE: "add", Action.UPDATE: "change", Action.REPLACE: "replace",
         Action.DELETE: "destroy"}
_WORD = {Action.UPDATE: "update in-place", Action.REPLACE: "replace", Action.DELETE: "destroy"}
STYLE = {"+": "green", "-": "red", "~": "yellow", "-/+": "red"}


def summarized(pending: tuple[ResourceChange, ...], full: bool) -> bool:
    return not full and len(pending) > SUMMARY_ABOVE


def summary_lines(pending: Iterable[ResourceChange]) -> list[Text]:
    pending = list(pending)
    by_kind: dict[tuple[str, str], Counter[Action]] = {}
    tenants: set[str] = set()
    for c in pending:
        by_kind.setdefault((c.provider, c.type), Counter())[c.action] += 1
        tenants.add(c.tenant)

    out = [Text(f"ecpctl will perform {len(pending):,} actions on {len(tenants):,} "
                f"tenant{'s' if len(tenants) != 1 else ''} (more than {SUMMARY_ABOVE}: a summary; "
                "--full shows every attribute)."), Text("")]
    width = max(len(f"{p} {t}") for p, t in by_kind) + 2
    out.append(Text("  " + "kind".ljust(width) + "".join(f"{_HEAD[a]:>9}" for a in _ACTIONS),
                    style="bold"))
    for (provider, rtype), counts in sorted(by_kind.items()):
        cells = "".join(f"{counts[a]:>9,}" if counts[a] else " " * 9 for a in _ACTIONS)
        out.append(Text("  " + f"{provider} {rtype}".ljust(width) + cells))
    out.append(Text(""))
    named = sorted(tenants)
    line = ", ".join(named[:TENANTS_NAMED])
    if len(named) > TENANTS_NAMED:
        line += f" and {len(named) - TENANTS_NAMED:,} more"
    out.append(Text(f"  tenants: {line}"))

    existing = [c for c in pending if c.action is not Action.CREATE]
    if existing:
        out.append(Text(""))
        out.append(Text("Changes to existing objects:", style="bold"))
        for c in existing:
            sym = c.action.symbol
            t = Text("  ")
            t.append(sym, style=STYLE.get(sym, ""))
            t.append(f" {c.address} ({_WORD[c.action]}{': ' + c.reason if c.reason else ''})")
            out.append(t)
    out.append(Text(""))
    return out
