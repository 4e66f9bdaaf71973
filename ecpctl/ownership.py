"""The ownership check of a plan: no change may create over, adopt, change or delete an object that
another workspace or state lineage owns, or that exists without any ecpctl mark, unless the user
takes it over explicitly (`ecpctl import`, or `--adopt`, which the plan shows). Called by the
planner once the live objects are read; see docs/ownership.md.

An object that this state already records but that carries no mark (made by an ecpctl from before
the marks, or taken over by `ecpctl import`) is this state's: the next apply writes the mark.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping

from ecpctl.kernel import Diagnostic, ResourceState
from ecpctl.kernel.ownership import Owner
from ecpctl.plan import Action, ActionReason, ResourceChange
from providers.protocol import LiveObject


class Standing(enum.Enum):
    OURS = "ours"                   # marked with this state's owner
    RECORDED = "recorded"           # in this state, no mark of ours yet (earlier ecpctl, import)
    FOREIGN = "foreign"             # marked by another workspace or lineage
    UNMANAGED = "unmanaged"         # there, with no ecpctl mark, and not in this state


MarkedFn = Callable[[str, str], bool]      # (provider, type) -> does this type carry marks


def standing(owner: Owner, prior: ResourceState | None, live: LiveObject | None,
             marked: bool) -> Standing | None:
    """Who an object belongs to, or None when there is nothing to check (absent, or unmarked type)."""
    if live is None or not marked:
        return None
    if live.owner == owner:
        return Standing.OURS
    imported = prior is not None and bool((prior.private or {}).get("adopted"))
    if live.owner is None:
        return Standing.RECORDED if prior is not None else Standing.UNMANAGED
    return Standing.RECORDED if imported else Standing.FOREIGN


def needs_mark(owner: Owner | None, prior: ResourceState | None, live: LiveObject | None,
               marked: bool) -> bool:
    """True when an otherwise unchanged object must be applied to write this state's mark."""
    return owner is not None and standing(owner, prior, live, marked) is Standing.RECORDED


def review(changes: Mapping[str, ResourceChange], live: Mapping[str, LiveObject],
           owner: Owner, *, adopt: bool, marked: MarkedFn
           ) -> tuple[dict[str, ResourceChange], list[Diagnostic]]:
    """The changes, with adoptions marked as such, and an error for each change that would touch
    what is not this state's without `--adopt`."""
    out = dict(changes)
    errors: list[Diagnostic] = []
    for addr, c in changes.items():
        if c.action is Action.NOOP:
            continue
        lv = live.get(addr)
        where = standing(owner, c.prior, lv, marked(c.provider, c.type))
        if where not in (Standing.FOREIGN, Standing.UNMANAGED):
            continue
        assert lv is not None
        if adopt:
            out[addr] = dataclasses.replace(
                c, action_reason=ActionReason.CREATE_ADOPT_EXISTING if c.action is Action.CREATE
                else c.action_reason, reason=_adopt_text(c, lv.owner))
            continue
        errors.append(Diagnostic.error(_refusal(c, lv.owner, owner), address=addr,
                                       detail=_hint(c, lv.owner, owner)))
    return out, errors


def _verb(c: ResourceChange) -> str:
    return {Action.CREATE: "create over", Action.UPDATE: "change", Action.REPLACE: "replace",
            Action.DELETE: "delete"}[c.action]


def _refusal(c: ResourceChange, theirs: Owner | None, ours: Owner) -> str:
    if theirs is None:
        return (f"refusing to {_verb(c)} {c.type} {c.name}: it already exists and carries no "
                f"ecpctl owner mark (it was not made by ecpctl, or its marks were removed)")
    return (f"refusing to {_verb(c)} {c.type} {c.name}: it is owned by {theirs.describe()}, "
            f"not by this {ours.describe()}")


def _hint(c: ResourceChange, theirs: Owner | None, ours: Owner) -> str:
    take = (f"to take it over, `ecpctl import {c.address} ID` or plan again with --adopt")
    if theirs is not None and theirs.workspace != ours.workspace:
        return (f"{take}; to keep both, give workspace {ours.workspace!r} its own names in "
                f"spec.workspaces.{ours.workspace}.providers (namespacePrefix, databasePattern, "
                "rolePattern)")
    return take


def _adopt_text(c: ResourceChange, theirs: Owner | None) -> str:
    was = theirs.describe() if theirs is not None else "no ecpctl owner"
    return f"adopted with --adopt (owned by {was})" + (f"; {c.reason}" if c.reason and
                                                       c.action is not Action.CREATE else "")
