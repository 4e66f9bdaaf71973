"""The views of `calc`: sizing tables for people, the same figures in the JSON envelope.

Amounts are decimal strings in JSON (never floats), so totals add up to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from ecpctl.kernel.quantity import format_cpu, format_memory
from ecpctl.views.calc_explain import explain_lines
from ecpctl.views.report import plural


@dataclass(frozen=True)
class Calculated:
    """Every tenant at `path` sized with the Project's price table."""

    path: str
    digest: str
    price: Any                        # the Project's spec.price
    sizings: tuple[tuple[str, Any], ...]   # (file, Sizing), sorted by tenant id
    explained: tuple[Any, ...] | None = None   # sizing_explain.Explanation per tenant (--explain)

    @property
    def total(self) -> Decimal:
        return sum((s.monthly_cost for _, s in self.sizings), Decimal("0.00"))


def calc_json(c: Calculated) -> dict[str, Any]:
    price, sizings = c.price, [s for _, s in c.sizings]
    return {
        "source": c.path,
        "digest": c.digest,
        "currency": price.currency,
        "price": {"hours_per_month": str(price.hoursPerMonth),
                  "cpu_core_hour": str(price.cpuCoreHour),
                  "memory_gib_hour": str(price.memoryGiBHour),
                  "gpu_hour": {k: str(v) for k, v in sorted(price.gpuHour.items())}},
        "tenants": [{"file": file, **s.to_dict()} for file, s in c.sizings],
        "total": {
            "monthly_cost": str(c.total),
            "cpu_request_m": sum(s.total_cpu_request_m for s in sizings),
            "cpu_limit_m": sum(s.total_cpu_limit_m for s in sizings),
            "memory_request_mi": sum(s.total_memory_request_mi for s in sizings),
            "memory_limit_mi": sum(s.total_memory_limit_mi for s in sizings),
            "gpus": sum(s.total_gpu for s in sizings),
        },
        **({"explain": [e.to_dict() for e in c.explained]} if c.explained is not None else {}),
    }


def calc_human(con: Console, c: Calculated) -> None:
    if not c.sizings:
        con.print(f"No tenants in {c.path}.", markup=False)
        return
    con.print(_summary_table(c))
    explained = {e.tenant_id: e for e in c.explained or ()}
    for file, s in c.sizings:
        con.print()
        con.print(_tenant_table(file, s))
        if s.tenant_id in explained:
            for line in explain_lines(explained[s.tenant_id]):
                con.print(line, markup=False, highlight=False)


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _table(title: str, caption: str | None = None) -> Table:
    return Table(title=title, caption=caption, title_justify="left", caption_justify="left",
                 show_footer=True, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)


def _req_lim(req: str, lim: str) -> str:
    return f"{req}/{lim}"


def _summary_table(c: Calculated) -> Table:
    sizings = [s for _, s in c.sizings]
    auto = any(s.requested_preset == "auto" for s in sizings)
    t = _table("Tenants", "* preset chosen by auto" if auto else None)
    t.add_column("tenant", footer="total", no_wrap=True)
    t.add_column("preset")
    t.add_column("replicas", justify="right", footer=str(sum(s.total_replicas for s in sizings)))
    t.add_column("CPU req/lim", justify="right", footer=_req_lim(
        format_cpu(sum(s.total_cpu_request_m for s in sizings)),
        format_cpu(sum(s.total_cpu_limit_m for s in sizings))))
    t.add_column("memory req/lim", justify="right", footer=_req_lim(
        format_memory(sum(s.total_memory_request_mi for s in sizings)),
        format_memory(sum(s.total_memory_limit_mi for s in sizings))))
    t.add_column("GPU", justify="right", footer=str(sum(s.total_gpu for s in sizings)))
    t.add_column(f"{c.price.currency}/month", justify="right", footer=_money(c.total))
    for s in sizings:
        preset = s.preset if s.requested_preset != "auto" else f"{s.preset}*"
        t.add_row(s.tenant_id, preset, str(s.total_replicas),
                  _req_lim(format_cpu(s.total_cpu_request_m), format_cpu(s.total_cpu_limit_m)),
                  _req_lim(format_memory(s.total_memory_request_mi),
                           format_memory(s.total_memory_limit_mi)),
                  str(s.total_gpu), _money(s.monthly_cost))
    return t


def _tenant_table(file: str, s) -> Table:
    quota = (f"quota {s.preset}: {format_cpu(s.cpu_limit_m)} CPU, {format_memory(s.memory_limit_mi)}, "
             f"{plural(s.gpu_limit, 'GPU')} ({s.gpu_type}), {s.pods_limit} pods")
    ha = "HA: at least 2 replicas each" if s.ha else "no HA minimum"
    t = _table(f"{s.tenant_id}  ({file})", f"{quota}; {ha}")
    t.add_column("service", footer="total", no_wrap=True)
    t.add_column("sessions", justify="right", footer=str(sum(x.sessions for x in s.services)))
    t.add_column("replicas (max)", justify="right", footer=str(s.total_replicas))
    t.add_column("CPU req/lim", justify="right",
                 footer=_req_lim(format_cpu(s.total_cpu_request_m), format_cpu(s.total_cpu_limit_m)))
    t.add_column("memory req/lim", justify="right",
                 footer=_req_lim(format_memory(s.total_memory_request_mi),
                                 format_memory(s.total_memory_limit_mi)))
    t.add_column("GPU", justify="right", footer=str(s.total_gpu))
    t.add_column(f"{s.currency}/month", justify="right", footer=_money(s.monthly_cost))
    for x in s.services:
        t.add_row(x.service, str(x.sessions), f"{x.replicas} ({x.max_replicas})",
                  _req_lim(format_cpu(x.total_cpu_request_m), format_cpu(x.total_cpu_limit_m)),
                  _req_lim(format_memory(x.total_memory_request_mi),
                           format_memory(x.total_memory_limit_mi)),
                  _gpus(x), _money(x.monthly_cost))
    return t


def _gpus(x) -> str:
    """Units of the service's GPU resource, named when it is not a whole nvidia.com/gpu."""
    if not x.total_gpu or x.gpu_resource == "nvidia.com/gpu" and x.gpus == x.total_gpu:
        return str(x.total_gpu)
    return f"{x.total_gpu} {x.gpu_resource}"
