"""SLO burn-rate rules from an availability target (ecpctl/slo.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecpctl.promql import parse
from ecpctl.slo import WINDOWS, burn_thresholds, error_budget, slo_rule_groups, threshold


def test_thresholds_at_99_5_are_exact():
    got = [t for _, t in burn_thresholds(Decimal("99.5"))]
    assert got == [Decimal("0.072"), Decimal("0.03"), Decimal("0.015"), Decimal("0.005")]
    assert [str(t) for t in got] == ["0.072", "0.03", "0.015", "0.005"]


@pytest.mark.parametrize("availability, budget, expected", [
    ("99.9", "0.001", ["0.0144", "0.006", "0.003", "0.001"]),
    ("99.95", "0.0005", ["0.0072", "0.003", "0.0015", "0.0005"]),
    ("99.99", "0.0001", ["0.00144", "0.0006", "0.0003", "0.0001"]),
    ("99", "0.01", ["0.144", "0.06", "0.03", "0.01"]),
])
def test_thresholds(availability, budget, expected):
    assert error_budget(Decimal(availability)) == Decimal(budget)
    assert [str(t) for _, t in burn_thresholds(Decimal(availability))] == expected


def test_windows_follow_the_sre_workbook():
    assert [(w.severity, w.long, w.short, w.factor) for w in WINDOWS] == [
        ("page", "1h", "5m", Decimal("14.4")), ("page", "6h", "30m", Decimal("6")),
        ("ticket", "1d", "2h", Decimal("3")), ("ticket", "3d", "6h", Decimal("1"))]
    # 14.4x over 1h spends 2% of a 30-day budget; 6x over 6h 5%; 3x over 1d 10%; 1x over 3d 10%
    assert [w.factor * {"1h": 1, "6h": 6, "1d": 24, "3d": 72}[w.long] / (30 * 24) * 100
            for w in WINDOWS] == [Decimal("2"), Decimal("5"), Decimal("10"), Decimal("10")]


def test_rule_groups():
    rec, alerts = slo_rule_groups("acme", Decimal("99.5"))
    assert rec["name"] == "ecp-ai-acme-slo-recording"
    assert alerts["name"] == "ecp-ai-acme-slo-alerts"
    assert [r["record"].rsplit("rate", 1)[1] for r in rec["rules"]] == [
        "5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    for r in rec["rules"]:
        assert r["labels"] == {"tenant_id": "acme"}
        assert 'tenant_id="acme"' in r["expr"]
        parse(r["expr"])
    texts = [a["expr"] for a in alerts["rules"]]
    assert texts[0] == ('tenant:ecp_request_errors:ratio_rate1h{tenant_id="acme"} > 0.072 and '
                        'tenant:ecp_request_errors:ratio_rate5m{tenant_id="acme"} > 0.072')
    for a, (bw, thr) in zip(alerts["rules"], burn_thresholds(Decimal("99.5"))):
        assert a["alert"] == "ErrorBudgetBurn"
        assert f"> {thr} and" in a["expr"]
        assert a["labels"]["severity"] == ("critical" if bw.severity == "page" else "warning")
        assert (a["labels"]["long_window"], a["labels"]["short_window"]) == (bw.long, bw.short)
        assert a["labels"]["tenant_id"] == "acme"
        parse(a["expr"])


def test_no_scientific_notation_for_tight_targets():
    _, alerts = slo_rule_groups("t", Decimal("99.999"))
    assert "E-" not in str(alerts) and "e-" not in str(alerts)
    assert "> 0.000144 and" in alerts["rules"][0]["expr"]
    assert threshold(Decimal("99.999"), Decimal("1")) == Decimal("0.00001")
