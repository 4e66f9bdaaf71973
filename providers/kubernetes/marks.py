"""The owner mark on Kubernetes objects: written into every manifest ecpctl applies (so the field
manager `ecpctl` owns it, and it shows in `observed` like any other field) and read back from
live objects for the ownership check (docs/ownership.md)."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from ecpctl.kernel.ownership import Owner, owner_of_metadata


def stamp(manifest: Mapping[str, Any], owner: Owner | None) -> dict[str, Any]:
    """`manifest` with `owner`'s label and annotations added (a copy; the input is untouched)."""
    out = dict(manifest)
    if owner is None:
        return out
    md = dict(out.get("metadata") or {})
    md["labels"] = {**(md.get("labels") or {}), **owner.labels()}
    md["annotations"] = {**(md.get("annotations") or {}), **owner.annotations()}
    out["metadata"] = md
    return out


def owner_of(obj: Mapping[str, Any] | None) -> Owner | None:
    return owner_of_metadata((obj or {}).get("metadata")) if obj else None
