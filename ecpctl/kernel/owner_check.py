"""The owner check that apply and destroy make at write time, when no plan-time check ran
(`--no-refresh` reads nothing live, so nothing compared the objects' marks with this state before).

A provider that can read an object's mark cheaply just before writing or deleting it (a GET, a
catalog query, the file or config it rewrites anyway) calls `refuse_write` with what it found;
the rules are the plan's (ecpctl/ownership.py, docs/ownership.md): an object marked by another
workspace or lineage, or one that is there with no mark and that this state does not record, is
not touched. `--adopt` turns the check off, as it does the plan's.
"""

from __future__ import annotations

from ecpctl.kernel.errors import Conflict
from ecpctl.kernel.ownership import Owner

HINT = ("(apply and destroy --no-refresh check the owner just before they write; plan without "
        "--no-refresh to see every such object, or with --adopt to take them over)")


def refusal(verb: str, what: str, ours: Owner, theirs: Owner | None, *, recorded: bool,
            imported: bool = False) -> str | None:
    """Why writing `verb` ("change", "delete", "create over") over `what` must not go on, or None.

    `recorded`: this state records the object (an unmarked one is then this state's, made by an
    ecpctl from before the marks); `imported`: taken over with `ecpctl import`, whatever it says.
    """
    if theirs == ours:
        return None
    if theirs is None:
        if recorded:
            return None
        return (f"refusing to {verb} {what}: it already exists and carries no ecpctl owner mark "
                f"{HINT}")
    if imported:
        return None
    return (f"refusing to {verb} {what}: it is owned by {theirs.describe()}, not by this "
            f"{ours.describe()} {HINT}")


def refuse_write(verb: str, what: str, ours: Owner | None, theirs: Owner | None, *,
                 recorded: bool, imported: bool = False) -> None:
    """Raise Conflict (permanent) with `refusal`'s words, when there is one."""
    if ours is None:
        return
    text = refusal(verb, what, ours, theirs, recorded=recorded, imported=imported)
    if text is not None:
        raise Conflict(text)
