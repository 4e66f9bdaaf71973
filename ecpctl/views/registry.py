"""The views of `workspace list` and `tenants`: which workspaces exist, and the tenants registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Workspaces:
    names: tuple[str, ...]
    selected: str


def workspaces_human(con: Console, w: Workspaces) -> None:
    for n in w.names:
        con.print(f"{'*' if n == w.selected else ' '} {n}", markup=False)


def workspaces_json(w: Workspaces) -> dict[str, Any]:
    return {"selected": w.selected,
            "workspaces": [{"name": n, "selected": n == w.selected} for n in w.names]}


@dataclass(frozen=True)
class Tenants:
    workspace: str
    records: Sequence[Any]     # state.TenantRecord, sorted by tenant id


def tenants_human(con: Console, t: Tenants) -> None:
    if not t.records:
        con.print(f"No tenants in workspace {t.workspace}.", markup=False)
        return
    table = Table("tenant", "name", "preset", "demo", "status", "cpu", "memory", "gpu",
                  "gpu type", "updated", box=None)
    for r in t.records:
        cells = (r.tenant_id, r.name, r.preset, "yes" if r.is_demo else "no", r.status,
                 r.cpu_limit, r.memory_limit, str(r.gpu_limit), r.gpu_type or "",
                 str(r.updated_at)[:19])
        table.add_row(*(Text(c) for c in cells))   # a display name is any text, never markup
    con.print(table)


def tenants_json(t: Tenants) -> dict[str, Any]:
    return {"workspace": t.workspace, "tenants": [r.to_dict() for r in t.records]}
