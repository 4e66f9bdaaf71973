"""Why a tenant lands in its quota tier: what each service adds, the tier's headroom, and which
service pushes the tenant past the tier below (`ecpctl calc --explain`).

Pure data over sizing's figures; views/calc.py renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ecpctl.catalog import Preset, ServiceCatalog, default_catalog
from ecpctl.config.models import Tenant
from ecpctl.kernel.quantity import format_cpu, format_memory
from ecpctl.sizing import (
    ABOVE_LARGEST, GpuShares, format_gpus, gpu_number, service_needs, tier_of,
)

RESOURCES = ("cpu", "memory", "gpus")


@dataclass(frozen=True)
class Share:
    """What one service adds to the tier: its replicas' CPU and memory limits and GPUs."""

    service: str
    cpu_m: int
    memory_mi: int
    gpus: Fraction

    def amount(self, resource: str) -> Fraction:
        return Fraction({"cpu": self.cpu_m, "memory": self.memory_mi, "gpus": self.gpus}[resource])


@dataclass(frozen=True)
class Overrun:
    """One resource the tenant needs more of than a tier holds, and the services behind it."""

    resource: str                      # cpu | memory | gpus
    need: Fraction
    limit: Fraction
    by: tuple[tuple[str, Fraction], ...]   # services that use it, the largest first

    @property
    def pushed_by(self) -> str:
        return self.by[0][0]


@dataclass(frozen=True)
class Explanation:
    tenant_id: str
    tier: str                          # the resolved tier
    shares: tuple[Share, ...]
    headroom: dict[str, Fraction]      # the resolved tier less the need, per resource
    below: str | None                  # the tier it did not fit (None: the smallest fits)
    overruns: tuple[Overrun, ...]      # what exceeds `below`
    fits_below_without: tuple[str, ...]    # services whose removal alone fits `below`

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant_id, "tier": self.tier,
            "services": [{"service": s.service, "cpu_limit_m": s.cpu_m,
                          "memory_limit_mi": s.memory_mi, "gpus": gpu_number(s.gpus)}
                         for s in self.shares],
            "headroom": {r: _number(r, v) for r, v in self.headroom.items()},
            "below": self.below,
            "overruns": [{"resource": o.resource, "need": _number(o.resource, o.need),
                          "limit": _number(o.resource, o.limit), "pushed_by": o.pushed_by,
                          "by": [{"service": s, "amount": _number(o.resource, a)}
                                 for s, a in o.by]}
                         for o in self.overruns],
            "fits_below_without": list(self.fits_below_without),
        }


def _number(resource: str, value: Fraction) -> int | float:
    return gpu_number(value) if resource == "gpus" else int(value)


def format_amount(resource: str, value: Fraction) -> str:
    if resource == "cpu":
        return format_cpu(int(value))
    if resource == "memory":
        return format_memory(int(value))
    return format_gpus(value)


def _limits(p: Preset) -> dict[str, Fraction]:
    return {"cpu": Fraction(p.cpu_m), "memory": Fraction(p.memory_mi), "gpus": Fraction(p.gpus)}


def _total(shares: tuple[Share, ...], resource: str) -> Fraction:
    return sum((s.amount(resource) for s in shares), Fraction(0))


def _fits(shares: tuple[Share, ...], tier: Preset) -> bool:
    limits = _limits(tier)
    return all(_total(shares, r) <= limits[r] for r in RESOURCES)


def explain(tenant: Tenant, catalog: ServiceCatalog | None = None,
            shares: GpuShares | None = None) -> Explanation:
    """The tenant's tier, and for the tier just below it what does not fit and whose it is."""
    catalog, shares = catalog or default_catalog(), shares or GpuShares()
    needs = service_needs(tenant, catalog, shares)
    parts = tuple(Share(name, n.cpu_m, n.memory_mi, n.gpus) for name, n in needs.items())
    total = {r: _total(parts, r) for r in RESOURCES}
    tier = tier_of(tenant, catalog, shares)
    order = list(catalog.presets.values())
    if tier.name.endswith(ABOVE_LARGEST):
        below: Preset | None = catalog.largest
    else:
        at = [p.name for p in order].index(tier.name)
        below = order[at - 1] if at > 0 else None
    overruns: list[Overrun] = []
    without: tuple[str, ...] = ()
    if below is not None:
        limits = _limits(below)
        for r in RESOURCES:
            if total[r] > limits[r]:
                by = sorted(((s.service, s.amount(r)) for s in parts if s.amount(r)),
                            key=lambda x: -x[1])
                overruns.append(Overrun(r, total[r], limits[r], tuple(by)))
        without = tuple(s.service for s in parts
                        if _fits(tuple(p for p in parts if p is not s), below))
    return Explanation(
        tenant_id=tenant.metadata.name, tier=tier.name, shares=parts,
        headroom={r: _limits(tier)[r] - total[r] for r in RESOURCES},
        below=below.name if below is not None else None, overruns=tuple(overruns),
        fits_below_without=without)


__all__ = ["Explanation", "Overrun", "Share", "explain", "format_amount"]
