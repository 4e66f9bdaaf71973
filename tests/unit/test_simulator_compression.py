"""monitoring.timeCompression (ecpctl/slo.py: compress): the sandbox divides every generated
window and `for:` by a factor, while record names keep the nominal windows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecpctl.expand.service_rules import service_alerts_group, usage_group
from ecpctl.promql import parse
from ecpctl.slo import compress, slo_rule_groups


@pytest.mark.parametrize("duration, factor, expected", [
    ("1h", 10, "6m"), ("5m", 10, "30s"), ("2m", 10, "12s"), ("30d", 10, "3d"),
    ("6h", 10, "36m"), ("3d", 10, "432m"), ("1h", 1, "1h"),
    ("2h", 60, "2m"), ("1m", 120, "1s"), ("1s", 10, "1s"), ("0s", 10, "0s"),
    ("1h30m", 10, "9m"), ("90s", 3, "30s"),
])
def test_compress(duration, factor, expected):
    assert compress(duration, factor) == expected


def test_compressed_text_is_a_valid_prometheus_duration():
    for d in ("1h", "5m", "2m", "30d", "6h", "3d", "1d", "2h", "30m"):
        for f in (1, 2, 7, 10, 60, 1000):
            parse(f"rate(x[{compress(d, f)}])")


def test_rules_keep_their_names_and_shrink_their_windows():
    plain = slo_rule_groups("acme", Decimal("99.5"))
    fast = slo_rule_groups("acme", Decimal("99.5"), compression=10)
    assert [r["record"] for r in plain[0]["rules"]] == [r["record"] for r in fast[0]["rules"]]
    rec = {r["record"]: r["expr"] for r in fast[0]["rules"]}
    assert "[6m]" in rec["tenant:ecp_request_errors:ratio_rate1h"]
    assert "[3d]" in rec["tenant:ecp_request_errors:ratio_rate30d"]
    page = fast[1]["rules"][0]
    assert page["for"] == "12s" and page["labels"]["long_window"] == "1h"
    usage = usage_group("acme", "ecp-ai-acme", ["chatbot"], compression=10)
    assert "[12s]" in usage["rules"][0]["expr"]
    alerts = service_alerts_group("acme", "ecp-ai-acme", ["chatbot"], 150, compression=10)
    assert [r["for"] for r in alerts["rules"]] == ["12s", "30s"]
