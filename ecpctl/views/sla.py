"""The views of `ecpctl sla`: each tenant's availability against its target over the period.

Both carry the verdict the exit code gives (3 when a tenant breaches or has no requests): the
human view as its last line, the JSON view as `all_meeting` and each tenant's `status`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from ecpctl.sla import BURN_WINDOWS, SlaReport, TenantSla
from ecpctl.views.report import plural


def _iso(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _round(v: float | None, digits: int = 4) -> float | None:
    if v is None or math.isnan(v):
        return None
    if math.isinf(v):
        return -1e9 if v < 0 else 1e9
    return round(v, digits)


def _tenant_json(t: TenantSla) -> dict[str, Any]:
    return {
        "tenant": t.tenant, "status": t.status, "target_percent": str(t.target),
        "availability_percent": _round(t.availability),
        "requests": round(t.requests), "failed_requests": round(t.failed),
        "error_budget_remaining": _round(t.budget_remaining),
        "burn_rates": {w: _round(v) for w, v in t.burn_rates.items()},
        "downtime_minutes": round(t.downtime_seconds / 60, 2),
        "incidents": [{"start": _iso(i.start), "end": _iso(i.end),
                       "minutes": None if i.seconds is None else round(i.seconds / 60, 2)}
                      for i in t.incidents],
        "mttr_minutes": None if t.mttr_seconds is None else round(t.mttr_seconds / 60, 2),
        "firing_alerts": list(t.firing),
    }


def sla_json(r: SlaReport) -> dict[str, Any]:
    return {"all_meeting": not r.breaching, "prometheus": r.prometheus,
            "period": {"seconds": r.period_seconds, "start": _iso(r.start), "end": _iso(r.end),
                       "step_seconds": r.step_seconds},
            "tenants": [_tenant_json(t) for t in r.tenants]}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}%"


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f}m"


def _burn(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _budget(v: float | None) -> str:
    if v is None:
        return "-"
    return "overspent" if math.isinf(v) else f"{100 * v:.1f}%"


def sla_human(con: Console, r: SlaReport) -> None:
    if not r.tenants:
        con.print("No tenants declared.", markup=False)
        return
    head = ("TENANT", "TARGET", "AVAILABILITY", "STATUS", "BUDGET LEFT",
            *(f"BURN {w}" for w in BURN_WINDOWS), "DOWNTIME", "INCIDENTS", "MTTR")
    table: list[Sequence[str]] = [head, *(
        (t.tenant, f"{t.target}%", _pct(t.availability), t.status, _budget(t.budget_remaining),
         *(_burn(t.burn_rates.get(w)) for w in BURN_WINDOWS), _minutes(t.downtime_seconds),
         str(len(t.incidents)), _minutes(t.mttr_seconds)) for t in r.tenants)]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    con.print(f"SLA over the last {_minutes(r.period_seconds)} (until {_iso(r.end)}), "
              f"from {r.prometheus}", markup=False)
    con.print()
    for row in table:
        con.print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), markup=False)
    notes = [f"{t.tenant}: firing {', '.join(t.firing)}" for t in r.tenants if t.firing]
    notes += [f"{t.tenant}: an incident is still going on (since {_iso(i.start)})"
              for t in r.tenants for i in t.incidents if i.end is None]
    notes += [f"{t.tenant}: no requests recorded in the period" for t in r.tenants
              if t.availability is None]
    notes += [f"{tid}: no burn-rate recordings (are ecpctl's rules loaded in this Prometheus?)"
              for tid in r.missing_rules]
    if notes:
        con.print()
        for n in notes:
            con.print(n, markup=False)
    con.print()
    bad = r.breaching
    if bad:
        con.print(f"{plural(len(bad), 'tenant')} not meeting target: "
                  f"{', '.join(t.tenant for t in bad)}.", markup=False)
    else:
        con.print(f"All {plural(len(r.tenants), 'tenant')} meeting target.", markup=False)
