"""The views of `workspace list` and `tenants`: which workspaces exist, the tenants registry, and
its fleet summary (`tenants --summary`)."""

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


# --- tenants --summary (ecpctl/fleet.py) ----------------------------------------------------------

def _amount(resource: str, amount: int) -> str:
    from ecpctl.kernel.quantity import format_cpu
    if resource == "cpu":
        return format_cpu(amount)
    if resource == "memory":
        gib = amount / 2 ** 30
        return f"{gib:.0f}Gi" if amount % 2 ** 30 == 0 else f"{gib:.1f}Gi"
    return str(amount)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def summary_human(con: Console, s: Any) -> None:
    t = s.totals
    con.print(f"Tenants in workspace {s.workspace}: {t['all']} (running {t['running']}, pending "
              f"{t['pending']}, failed {t['failed']}, demo {t['demo']}"
              + "".join(f", {k} {t[k]}" for k in ("applying", "destroying") if t[k]) + ")",
              markup=False)
    if s.by_preset:
        con.print("By preset: " + ", ".join(f"{k} {v}" for k, v in s.by_preset.items()),
                  markup=False)
    cap = s.capacity
    head = (f"Quotas against the cluster ({cap.nodes} schedulable nodes):" if cap.reachable
            else f"Quotas ({cap.reason}):")
    con.print(head, markup=False)
    table = Table("resource", "quotas", "allocatable", "share", box=None)
    for res in ("cpu", "memory", "gpu"):
        alloc = _amount(res, cap.allocatable[res]) if cap.reachable else "-"
        table.add_row(res, _amount(res, s.quota[res]), alloc, _pct(s.share(res)))
    con.print(table)
    use = s.utilisation
    if use.reason is not None:
        con.print(f"Utilisation: {use.reason}", markup=False)
        return
    con.print(f"Utilisation now (Prometheus {use.source}; % of the services' limits):",
              markup=False)
    if not use.tenants:
        con.print("  no tenants", markup=False)
        return
    table = Table("tenant", "cpu", "memory", "gpu", box=None)
    for tid, row in use.tenants.items():
        table.add_row(Text(tid), *(_pct(row.get(r)) for r in ("cpu", "memory", "gpu")))
    con.print(table)


def summary_json(s: Any) -> dict[str, Any]:
    cap = s.capacity
    return {
        "workspace": s.workspace,
        "totals": dict(s.totals),
        "by_preset": dict(s.by_preset),
        "quota": {"cpu": _amount("cpu", s.quota["cpu"]), "memory": _amount("memory", s.quota["memory"]),
                  "gpu": s.quota["gpu"]},
        "cluster": {
            "reachable": cap.reachable, "reason": cap.reason,
            "nodes": cap.nodes if cap.reachable else None,
            "allocatable": ({"cpu": _amount("cpu", cap.allocatable["cpu"]),
                             "memory": _amount("memory", cap.allocatable["memory"]),
                             "gpu": cap.allocatable["gpu"]} if cap.reachable else None),
            "quota_percent": {r: s.share(r) for r in ("cpu", "memory", "gpu")},
        },
        "utilisation": {"prometheus": s.utilisation.source, "reason": s.utilisation.reason,
                        "tenants": {t: dict(v) for t, v in s.utilisation.tenants.items()}},
    }
