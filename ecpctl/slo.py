"""SLO rules from an availability target: multi-window, multi-burn-rate alerts (Google SRE workbook).

Thresholds use Decimal so that 99.5% gives exactly 0.072, 0.03, 0.015 and 0.005.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ecpctl.kernel.durations import parse_duration

ERRORS = 'ecp_requests_total{{tenant_id="{t}",code=~"5.."}}'
TOTAL = 'ecp_requests_total{{tenant_id="{t}"}}'
RATIO = "tenant:ecp_request_errors:ratio_rate{w}"
SLO_PERIOD = "30d"


@dataclass(frozen=True)
class BurnWindow:
    severity: str      # page | ticket
    long: str
    short: str
    factor: Decimal
    for_: str


WINDOWS = (
    BurnWindow("page", "1h", "5m", Decimal("14.4"), "2m"),
    BurnWindow("page", "6h", "30m", Decimal("6"), "15m"),
    BurnWindow("ticket", "1d", "2h", Decimal("3"), "1h"),
    BurnWindow("ticket", "3d", "6h", Decimal("1"), "3h"),
)


def error_budget(availability_percent: Decimal) -> Decimal:
    return (Decimal(100) - Decimal(availability_percent)) / Decimal(100)


def threshold(availability_percent: Decimal, factor: Decimal) -> Decimal:
    return (factor * error_budget(availability_percent)).normalize()


def _num(d: Decimal) -> str:
    """Plain decimal text, never scientific notation: 0.0005, not 5E-4."""
    return format(Decimal(d).normalize(), "f")


def burn_thresholds(availability_percent: Decimal) -> list[tuple[BurnWindow, Decimal]]:
    """Each burn-rate window with its error-ratio threshold (99.5%: 0.072, 0.03, 0.015, 0.005)."""
    return [(bw, threshold(availability_percent, bw.factor)) for bw in WINDOWS]


def compress(duration: str, factor: int) -> str:
    """`duration` divided by `factor` (the sandbox's time compression), in whole seconds at least:
    1h / 10 = 6m. Record names keep the nominal window, so readers need not know the factor."""
    if factor == 1 or _seconds(duration) == 0:
        return duration
    seconds = max(1, round(_seconds(duration) / factor))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def slo_rule_groups(tenant_id: str, availability_percent: Decimal, *,
                    alert_labels: dict[str, str] | None = None, compression: int = 1) -> list[dict]:
    """The recording group and the alerting group; `alert_labels` are added to every alert."""
    windows = sorted({w for bw in WINDOWS for w in (bw.long, bw.short)} | {SLO_PERIOD},
                     key=_seconds)
    labels = {"tenant_id": tenant_id}       # every recording rule's: one object
    record = [{
        "record": RATIO.format(w=w),
        # `or vector(0)`: no 5xx at all is a ratio of 0, not an absent series
        "expr": f"(sum(rate({ERRORS.format(t=tenant_id)}[{compress(w, compression)}])) "
                f"or vector(0)) / sum(rate({TOTAL.format(t=tenant_id)}[{compress(w, compression)}]))",
        "labels": labels,
    } for w in windows]
    alerts = []
    for bw in WINDOWS:
        thr = _num(threshold(availability_percent, bw.factor))
        alerts.append({
            "alert": "ErrorBudgetBurn",
            "expr": (f'{RATIO.format(w=bw.long)}{{tenant_id="{tenant_id}"}} > {thr} and '
                     f'{RATIO.format(w=bw.short)}{{tenant_id="{tenant_id}"}} > {thr}'),
            "for": compress(bw.for_, compression),
            "labels": {"severity": "critical" if bw.severity == "page" else "warning",
                       "slo_alert": bw.severity, "tenant_id": tenant_id,
                       "long_window": bw.long, "short_window": bw.short,
                       **(alert_labels or {})},
            "annotations": {
                "summary": f"Tenant {tenant_id} is burning its error budget at "
                           f"{_num(bw.factor)}x over {bw.long} and {bw.short}",
                "description": f"SLO {_num(Decimal(availability_percent))}% over {SLO_PERIOD}; "
                               f"error ratio above {thr}.",
            },
        })
    return [
        {"name": f"ecp-ai-{tenant_id}-slo-recording", "rules": record},
        {"name": f"ecp-ai-{tenant_id}-slo-alerts", "rules": alerts},
    ]


def _seconds(w: str) -> float:
    """Seconds of a Prometheus duration, compound ones included (`1h30m`)."""
    return parse_duration(w) / 1000
