"""The views of `state list`, `state show` and `state history`: what ecpctl recorded.

Sensitive values are redacted in both views; a state that does not exist yet shows as empty
(lineage null, serial 0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ecpctl.kernel import ResourceState
from ecpctl.kernel.paths import redact
from ecpctl.views.state_view import resource_json


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


@dataclass(frozen=True)
class StateListing:
    workspace: str
    lineage: str
    serial: int
    resources: tuple[ResourceState, ...]     # those matching the patterns, sorted by address


def state_list_human(con: Console, s: StateListing) -> None:
    for r in s.resources:
        con.print(r.address, markup=False)


def state_list_json(s: StateListing) -> dict[str, Any]:
    return {"workspace": s.workspace, "lineage": s.lineage or None, "serial": s.serial,
            "resources": [{"address": r.address, "provider": r.provider, "type": r.type,
                           "name": r.name, "tenant": r.tenant, "depends_on": list(r.depends_on)}
                          for r in s.resources]}


@dataclass(frozen=True)
class StateShown:
    workspace: str
    resource: ResourceState


def _shown(r: ResourceState) -> dict[str, Any]:
    """`show --json`'s resource, and what the provider observed at the last apply."""
    return {**resource_json(r), "observed": redact(dict(r.observed), r.sensitive)}


def state_show_human(con: Console, s: StateShown) -> None:
    r = s.resource
    con.print(f"# {r.address}", markup=False)
    con.print(json.dumps(_shown(r)["attributes"], indent=2, ensure_ascii=False), markup=False)
    if r.depends_on:
        con.print("depends on: " + ", ".join(r.depends_on), markup=False)


def state_show_json(s: StateShown) -> dict[str, Any]:
    return {"workspace": s.workspace, **_shown(s.resource)}   # top level, as before the envelope


@dataclass(frozen=True)
class StateHistory:
    workspace: str
    versions: Sequence[Any]    # state.VersionInfo, newest first


def state_history_human(con: Console, h: StateHistory) -> None:
    if not h.versions:
        con.print(f"No versions of workspace {h.workspace} yet: `ecpctl apply` writes the first.",
                  markup=False)
        return
    table = Table("version", "created", "operation", "resources", box=None)
    for v in h.versions:
        table.add_row(str(v.version), str(v.created_at)[:19], Text(v.operation), str(v.resources))
    con.print(table)


def state_history_json(h: StateHistory) -> dict[str, Any]:
    return {"workspace": h.workspace,
            "versions": [{"version": v.version, "lineage": v.lineage, "created_at": iso(v.created_at),
                          "operation": v.operation, "resources": v.resources} for v in h.versions]}
