"""The PromQL checker and tenant scoping (ecpctl/promql.py).

CORPUS is shared with tests/integration/test_promtool_corpus.py, which checks that `promtool check
rules` gives the same verdict on every expression (ACCEPTED and REJECTED), so this offline checker
and Prometheus' own parser agree on it.
"""

from __future__ import annotations

import pytest

from ecpctl.promql import PromQLError, check_condition, parse, scope_expression

# Expressions Prometheus' parser accepts.
ACCEPTED = [
    "cpu_usage > 80", "cpu_usage>80", "gpu_usage > 90", "x == bool 1", "1 > bool 2",
    "time() > bool 5", "sum(x) by (a)", "sum by (a) (x)", "sum(x) without(a,)", "SUM(x)",
    "x AND y", "x{a=\"b\",}", "x{}", "{a=\"b\"}", "{a!=\"\"}", "{__name__=~\"a.*\", b=\"c\"}",
    "x{a=\"\"}", "x{A_b=\"c\"}", "x:y:z", "x{a='b'}", "x{a=`b`}", "x{a=\"\\n\"}",
    "x{a!~\"b\"}", "x offset 5m", "x offset -5m", "x @ start()", "x @ 100 offset 5m",
    "x[5m] offset 1h", "x{a=\"b\"}[5m]", "x[1h30m]", "x[1d2h]", "rate(x[5m:1m])",
    "rate(x[5m:])", "(x)[5m:1m]", "max_over_time(x[5m])[10m:]", "-x", "- - x", "x + + 1",
    "x ^ 2 ^ 3", "-2 ^ 2", "1 + 2 * 3 > bool 4", "x % 2 == 0", "x atan2 y", "1 atan2 2", "topk(3, x)",
    "count_values(\"v\", x)", "quantile(0.9, x)", "group(x)", "stddev(x) > 1", "vector(1)",
    "time()", "scalar(x)", "round(x, 2)", "day_of_week()", "absent(x)", "x or vector(0)",
    "x > on(a) group_left(b) y", "x and on(a) y", "x / on() group_left y",
    "x unless on(a) y", "x{a=\"b\"} unless y", "x > -Inf", "Inf", "nan", "0x1F > x",
    "1e3 < x", ".5 > x", "5. > x", "x # comment", "x >= 80 # c",
    "histogram_quantile(0.9, rate(b[5m]))", "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")",
    "label_join(x, \"d\", \",\", \"a\", \"b\")", "avg_over_time(x[1w])",
    "predict_linear(node_filesystem_free_bytes[6h], 4 * 3600) < 0",
    "absent_over_time(up{job=\"x\"}[5m])", "count(up == 0) > 3",
    "sum(rate(x[5m])) by (le) > 0.5", "cpu_usage > 80 and memory_usage > 90",
    "sum by (service) (rate(ecp_requests_total{code=~\"5..\"}[5m])) / "
    "sum by (service) (rate(ecp_requests_total[5m])) > 0.05",
    "histogram_quantile(0.95, sum by (le) (rate(ecp_request_duration_seconds_bucket[5m]))) > 0.15",
    "sum", "sum > 1", "x > and",   # keywords the grammar also takes as metric names
]

# Expressions Prometheus' parser rejects (each for a different reason).
REJECTED = [
    "x >", "x > 80 and", "1 +", "* x", "x * * y", "(x", "x{a=\"b\"", "x}", "x]", "x[5m",
    "x $ 1", "x =~ 1", "x=80", "'unterminated", "()", "x offset", "x @", "1.5e", "x > 1_000",
    "1 > 2", "scalar(x) > 1", "x and 1", "1 and 1", "x[5m] > 1", "\"a\" > 1",
    "rate(cpu_usage)", "foo(cpu_usage)", "RATE(x[5m])", "abs(x, y)", "abs(1)", "vector(x)",
    "rate()", "rate(x[5m],)", "round(x, 1, 2)", "day_of_week(x, x)", "label_join(x, \"d\")",
    "topk(x)", "sum(x,y)", "quantile(x, 0.5)", "count_values(1, x)", "topk(\"a\", x)",
    "{a=~\".*\"}", "{a=\"\"}", "x{__name__=\"y\"}", "x{a=b}", "x{a:b=\"c\"}", "x{a=~\"(\"}",
    "x{a=\"\\q\"}", "x{a=\"b\" c=\"d\"}", "x[5]", "x[5M]", "x[2h1d]", "x[0s]", "x[5m][10m]",
    "x offset 5m offset 1m", "(x) offset 5m", "rate(x[5m]) offset 5m", "x > 80 for",
    "x bool > 1", "x > group_left y", "x and on(a) group_left y", "ignoring(a)", "sum(x) by",
    "sum(x) by (a) by (b)", "sum without (a) (x) by (b)", "atan2",
]

# Valid PromQL that cannot be an alert condition (a string or a range vector never fires):
# promtool's `check rules` lets these through, ecpctl refuses them at plan time.
NOT_CONDITIONS = ["\"foo\"", "cpu_usage[5m]", "x[5m:1m]"]

CORPUS = [(e, True) for e in ACCEPTED] + [(e, False) for e in REJECTED]


@pytest.mark.parametrize("expr", ACCEPTED)
def test_accepted(expr):
    parse(expr)


@pytest.mark.parametrize("expr", REJECTED)
def test_rejected(expr):
    with pytest.raises(PromQLError):
        parse(expr)


@pytest.mark.parametrize("expr", NOT_CONDITIONS)
def test_not_a_condition(expr):
    parse(expr)
    with pytest.raises(PromQLError, match="instant vector or a scalar"):
        check_condition(expr)


@pytest.mark.parametrize("expr", ["", "   ", "# only a comment"])
def test_empty(expr):
    with pytest.raises(PromQLError, match="empty|end of input"):
        check_condition(expr)


@pytest.mark.parametrize("expr, column, message", [
    ("cpu_usage >", 12, "unexpected end of input"),
    ("cpu_usage > 80)", 15, "right parenthesis"),
    ("(cpu_usage > 80", 16, "unclosed left parenthesis"),
    ("cpu_usage ? 80", 11, "unexpected character '?'"),
    ("cpu_usage{a=\"b\" > 80", 17, "expected ',' or '}'"),
    ("rate(cpu_usage) > 1", 6, "expected type range vector"),
    ("frobnicate(cpu_usage)", 1, "unknown function"),
    ("80 > 70", 4, "BOOL modifier"),
])
def test_error_column_and_message(expr, column, message):
    with pytest.raises(PromQLError) as info:
        check_condition(expr)
    assert info.value.column == column
    assert message in info.value.message


@pytest.mark.parametrize("expr, scoped", [
    ("cpu_usage > 80", 'cpu_usage{tenant_id="acme"} > 80'),
    ("cpu_usage{} > 80", 'cpu_usage{tenant_id="acme"} > 80'),
    ('cpu_usage{pod=~"callbot-.*"} > 80', 'cpu_usage{tenant_id="acme",pod=~"callbot-.*"} > 80'),
    ('{__name__="cpu_usage"} > 80', '{tenant_id="acme",__name__="cpu_usage"} > 80'),
    ("rate(errors_total[5m]) / rate(requests_total[5m]) > 0.1",
     'rate(errors_total{tenant_id="acme"}[5m]) / rate(requests_total{tenant_id="acme"}[5m]) > 0.1'),
    ("sum by (service) (rate(x[5m] offset 1h)) > 1",
     'sum by (service) (rate(x{tenant_id="acme"}[5m] offset 1h)) > 1'),
    ("max_over_time(rate(x[1m])[10m:1m]) > 1",
     'max_over_time(rate(x{tenant_id="acme"}[1m])[10m:1m]) > 1'),
    ("x > on(service) group_left y", 'x{tenant_id="acme"} > on(service) group_left y{tenant_id="acme"}'),
    ("absent(up)", 'absent(up{tenant_id="acme"})'),
    ("vector(1) > bool 0", "vector(1) > bool 0"),
    ('label_replace(x, "by", "$1", "on", "(.*)") > 1',
     'label_replace(x{tenant_id="acme"}, "by", "$1", "on", "(.*)") > 1'),
    ("sum > 1", 'sum{tenant_id="acme"} > 1'),
    ("  cpu_usage > 80  # hot", 'cpu_usage{tenant_id="acme"} > 80  # hot'),
])
def test_scope(expr, scoped):
    assert scope_expression(expr, "acme") == scoped
    parse(scoped)


def test_scope_covers_every_selector():
    expr = "(a + b) / ignoring(x) c > on(d) group_left(e) sum(f offset 5m) unless g{h=\"i\"}"
    out = scope_expression(expr, "t1")
    assert out.count('tenant_id="t1"') == 5           # a, b, c, f and g
    assert len(parse(out).selectors) == 5


@pytest.mark.parametrize("expr", ['cpu_usage{tenant_id="other"} > 80',
                                  'cpu_usage{tenant_id=~".*"} > 80',
                                  '{tenant_id!="acme", __name__="x"} > 1'])
def test_selecting_tenant_id_is_refused(expr):
    with pytest.raises(PromQLError, match="must not select tenant_id"):
        scope_expression(expr, "acme")


def test_keywords_are_case_insensitive_but_functions_are_not():
    parse("SUM BY (a) (x) AND ON(a) y")
    with pytest.raises(PromQLError, match="unknown function"):
        parse("Rate(x[5m])")
