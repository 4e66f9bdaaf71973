"""Service level reports (`ecpctl sla`): from any Prometheus that scrapes the services' request
metrics and carries ecpctl's rules, each tenant's availability over a period against its target,
the error budget left, the current burn rates, downtime, incidents and mean time to recover.

Definitions (docs/providers/monitoring.md):
- availability: 1 - failed / all requests in the period (`ecp_requests_total`, failed = 5xx);
- error budget remaining: 1 - failed / (all x (1 - target)); below 0 when overspent;
- burn rate of a window: the recorded error ratio of that window (`tenant:ecp_request_errors:
  ratio_rate<w>`, ecpctl's recording rules) over the budget; 1 spends the budget in the SLO period;
- downtime: the time in which the error ratio, read at the finest step the scrape interval
  allows, was above the budget (the service failed more requests than its target allows);
- incident: one unbroken stretch of downtime; mean time to recover averages those that ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ecpctl.slo import RATIO, error_budget

REQUESTS = "ecp_requests_total"
FAILED = 'code=~"5.."'
BURN_WINDOWS = ("5m", "30m", "1h", "6h")      # the windows of the page and ticket alerts
MAX_POINTS = 1000                             # per range query, well below Prometheus' 11,000


class PrometheusQueries(Protocol):
    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]: ...

    def query_range(self, expr: str, start: float, end: float, step: float
                    ) -> list[dict[str, Any]]: ...

    def alerts(self) -> list[dict[str, Any]]: ...

    def scrape_interval(self) -> float: ...


@dataclass(frozen=True)
class Incident:
    start: float                 # epoch seconds
    end: float | None            # None: still going on at the end of the period

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start


@dataclass(frozen=True)
class TenantSla:
    tenant: str
    target: Decimal                         # availability target, percent
    requests: float
    failed: float
    burn_rates: dict[str, float | None]     # nominal window -> burn rate (None: not recorded)
    downtime_seconds: float
    incidents: tuple[Incident, ...]
    firing: tuple[str, ...] = ()            # alert names firing for the tenant now

    @property
    def availability(self) -> float | None:
        """Percent, or None without requests in the period."""
        if self.requests <= 0:
            return None
        return 100.0 * (1 - min(self.failed, self.requests) / self.requests)

    @property
    def status(self) -> str:
        a = self.availability
        if a is None:
            return "no data"
        return "meeting" if Decimal(repr(a)) >= self.target else "breaching"

    @property
    def budget_remaining(self) -> float | None:
        """The share of the period's error budget left (1.0 untouched, below 0 overspent)."""
        if self.requests <= 0:
            return None
        allowed = self.requests * float(error_budget(self.target))
        if allowed <= 0:
            return 1.0 if self.failed <= 0 else float("-inf")
        return 1 - self.failed / allowed

    @property
    def mttr_seconds(self) -> float | None:
        ended = [i.seconds for i in self.incidents if i.seconds is not None]
        return sum(ended) / len(ended) if ended else None


@dataclass(frozen=True)
class SlaReport:
    prometheus: str
    period_seconds: float
    start: float
    end: float
    step_seconds: float
    tenants: tuple[TenantSla, ...]
    missing_rules: tuple[str, ...] = field(default=())   # tenants whose recordings are absent

    @property
    def breaching(self) -> list[TenantSla]:
        return [t for t in self.tenants if t.status != "meeting"]


def _selector(tenants: Sequence[str], extra: str = "") -> str:
    names = "|".join(tenants)
    return "{" + f'tenant_id=~"{names}"' + (f",{extra}" if extra else "") + "}"


def _by_tenant(result: Iterable[dict[str, Any]]) -> dict[str, float]:
    out = {}
    for r in result:
        tid = r["metric"].get("tenant_id")
        if tid is not None:
            out[tid] = float(r["value"][1])
    return out


def steps(period: float, scrape: float) -> tuple[float, float]:
    """The step of the downtime series and the rate window read at each step: the step as fine
    as the period allows (at most MAX_POINTS points, never finer than a scrape), the window four
    scrapes at least so that each rate sees samples."""
    step = max(float(scrape), period / MAX_POINTS, 1.0)
    return step, max(step, 4 * float(scrape))


def incidents(points: Sequence[tuple[float, float]], budget: float, step: float, end: float
              ) -> tuple[float, tuple[Incident, ...]]:
    """Downtime seconds and the incidents of an error-ratio series sampled every `step`. A point
    above the budget counts as the `step` seconds up to it; an incident runs from the start of its
    first such step to its last point, so incidents add up to the downtime. A missing point (no
    requests, no scrape) neither starts nor ends an incident."""
    down = 0.0
    found: list[Incident] = []
    start: float | None = None
    last_bad = 0.0
    for t, ratio in points:
        if ratio > budget:
            down += step
            if start is None:
                start = t - step
            last_bad = t
        elif start is not None:
            found.append(Incident(start, last_bad))
            start = None
    if start is not None:
        # still failing at the last point read: ongoing, unless the data stopped long before
        found.append(Incident(start, None if end - last_bad <= 2 * step else last_bad))
    return down, tuple(found)


def collect(api: PrometheusQueries, url: str, targets: dict[str, Decimal], period: float,
            now: float | None = None) -> SlaReport:
    """The report of each tenant in `targets` (tenant id -> availability percent)."""
    end = time.time() if now is None else now
    start = end - period
    tenants = sorted(targets)
    if not tenants:
        return SlaReport(url, period, start, end, 0.0, ())
    scrape = api.scrape_interval()
    step, window = steps(period, scrape)
    rng = f"{int(round(period))}s"
    everything = _selector(tenants)
    failed = _selector(tenants, FAILED)
    totals = _by_tenant(api.query(f"sum by (tenant_id) (increase({REQUESTS}{everything}[{rng}]))",
                                  end))
    errors = _by_tenant(api.query(f"sum by (tenant_id) (increase({REQUESTS}{failed}[{rng}]))",
                                  end))
    burns: dict[str, dict[str, float]] = {t: {} for t in tenants}
    names = "|".join(RATIO.format(w=w) for w in BURN_WINDOWS)
    for r in api.query(f'{{__name__=~"{names}",tenant_id=~"{"|".join(tenants)}"}}', end):
        tid, metric = r["metric"].get("tenant_id"), r["metric"].get("__name__", "")
        w = metric.rsplit("ratio_rate", 1)[-1]
        if tid in burns:
            burns[tid][w] = float(r["value"][1])
    w = f"{int(window)}s"
    ratio = (f"(sum by (tenant_id) (rate({REQUESTS}{failed}[{w}])) or 0 * sum by (tenant_id) "
             f"(rate({REQUESTS}{everything}[{w}]))) / sum by (tenant_id) "
             f"(rate({REQUESTS}{everything}[{w}]))")
    series: dict[str, list[tuple[float, float]]] = {t: [] for t in tenants}
    for r in api.query_range(ratio, start + step, end, step):
        tid = r["metric"].get("tenant_id")
        if tid in series:
            series[tid] = [(float(t), float(v)) for t, v in r["values"] if v not in ("NaN",)]
    firing: dict[str, set[str]] = {t: set() for t in tenants}
    for a in api.alerts():
        tid = (a.get("labels") or {}).get("tenant_id")
        if a.get("state") == "firing" and tid in firing:
            firing[tid].add(a["labels"].get("alertname", "?"))
    out = []
    for tid in tenants:
        budget = float(error_budget(targets[tid]))
        down, found = incidents(series[tid], budget, step, end)
        out.append(TenantSla(
            tenant=tid, target=targets[tid], requests=totals.get(tid, 0.0),
            failed=errors.get(tid, 0.0),
            burn_rates={bw: (burns[tid][bw] / budget if bw in burns[tid] and budget > 0
                             else None) for bw in BURN_WINDOWS},
            downtime_seconds=down, incidents=found, firing=tuple(sorted(firing[tid]))))
    missing = tuple(t.tenant for t in out if all(v is None for v in t.burn_rates.values()))
    return SlaReport(url, period, start, end, step, tuple(out), missing)
