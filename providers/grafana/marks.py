"""The owner mark on Grafana dashboards and how a folder's owner is decided (docs/ownership.md).

A dashboard carries two marks, both written by every save ecpctl makes:
  * the tag `ecp.ai/owner:<hash>` (the 16-hex owner hash of the Kubernetes label) beside the
    `ecp-ai` tag: tags are what Grafana's search returns and what a save from Grafana's UI keeps;
  * the top-level field `ecpctlOwner: {workspace, lineage}` with the full values, which the
    dashboard API stores and returns as sent (the dashboard JSON is kept whole) and which the
    ownership check names. A save from Grafana's UI rebuilds the JSON from its model and drops
    fields it does not know; the tag then still tells this state's dashboards from others'.

Folders have no field of their own that Grafana's folder API keeps (uid, title, parentUid): a
folder's owner is the owner of the marked dashboards it holds; a folder holding none is this
state's when this state records it, and unmarked otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ecpctl.kernel.ownership import Owner

TAG_PREFIX = "ecp.ai/owner:"
FIELD = "ecpctlOwner"


def owner_tag(owner: Owner) -> str:
    return f"{TAG_PREFIX}{owner.hash}"


def stamp(board: Mapping[str, Any], owner: Owner | None) -> dict[str, Any]:
    """`board` carrying `owner`'s tag and field (a copy); any other owner's tag is replaced, which
    is how an adoption changes hands."""
    out = dict(board)
    if owner is None:
        return out
    tags = [t for t in out.get("tags") or [] if not str(t).startswith(TAG_PREFIX)]
    out["tags"] = [*tags, owner_tag(owner)]
    out[FIELD] = owner.to_dict()
    return out


def tag_hash(tags: Iterable[Any] | None) -> str | None:
    """The owner hash in a dashboard's (or search hit's) tags, or None."""
    for t in tags or ():
        if str(t).startswith(TAG_PREFIX):
            return str(t)[len(TAG_PREFIX):]
    return None


def owner_of(board: Mapping[str, Any], known: Mapping[str, Owner]) -> Owner | None:
    """The owner a dashboard's JSON records. The full field wins when it agrees with the tag (or
    the tag is gone); with the tag alone, the owner is looked up by hash among the owners this
    read has seen, and is otherwise unknown but still not this state."""
    field = field_owner(board)
    h = tag_hash(board.get("tags"))
    if field is not None and (h is None or h == field.hash):
        return field
    if h is None:
        return None
    return known.get(h) or unknown(h)


def field_owner(board: Mapping[str, Any]) -> Owner | None:
    """The owner in a dashboard's full-value field, or None."""
    value = board.get(FIELD)
    return Owner.from_dict(value) if isinstance(value, Mapping) else None


def unknown(h: str) -> Owner:
    """An owner known only by its hash (its dashboards lost the full field in a UI save)."""
    return Owner(f"(unknown, owner mark {h})", "")


def folder_owner(hashes: Iterable[str], known: Mapping[str, Owner], ours: Owner | None,
                 recorded: bool) -> Owner | None:
    """A folder's owner from the owner hashes of the dashboards it holds: another owner's if any
    (a shared folder is not ours to change or delete), else ours; with none, ours when this state
    records the folder, else None (unmarked)."""
    found = set(hashes)
    others = sorted(h for h in found if ours is None or h != ours.hash)
    if others:
        return known.get(others[0]) or unknown(others[0])
    if found or recorded:
        return ours
    return None
