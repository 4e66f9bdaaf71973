"""ecpctl's offline PromQL checker and promtool agree on a corpus of good and bad expressions, so
a condition that plan accepts is one Prometheus accepts, and the other way round."""

from __future__ import annotations

import json
import re

import pytest

from ecpctl.promql import PromQLError, check_condition, parse, scope_expression
from tests.testenv.alertmanager import run_promtool
from tests.unit.test_promql import CORPUS, NOT_CONDITIONS

pytestmark = pytest.mark.integration


def promtool_verdicts(promtool: str, tmp_path, exprs: list[str]) -> dict[str, tuple[bool, str]]:
    """One promtool run over one rules file per expression."""
    files = []
    for i, e in enumerate(exprs):
        f = tmp_path / f"e{i:03d}.yml"
        f.write_text("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: " + json.dumps(e) + "\n")
        files.append(f)
    out = run_promtool("check", "rules", *map(str, files), promtool=promtool)
    text = out.stdout + "\n" + out.stderr
    verdicts = {}
    for i, e in enumerate(exprs):
        name = files[i].name
        ok = re.search(rf"Checking \S*{name}\n\s+SUCCESS", out.stdout) is not None
        why = next((line for line in text.splitlines() if name in line and "parse" in line), "")
        verdicts[e] = (ok, why)
    return verdicts


def test_checker_agrees_with_promtool(promtool, tmp_path):
    exprs = [e for e, _ in CORPUS]
    verdicts = promtool_verdicts(promtool, tmp_path, exprs)
    disagree = []
    for expr, want in CORPUS:
        ok, why = verdicts[expr]
        try:
            parse(expr)
            ours = True
        except PromQLError:
            ours = False
        if ok != want or ours != ok:
            disagree.append(f"{expr!r}: promtool {'accepts' if ok else 'rejects'} ({why}); "
                            f"ecpctl {'accepts' if ours else 'rejects'}")
    assert not disagree, "\n".join(disagree)
    assert sum(1 for _, w in CORPUS if w) > 60 and sum(1 for _, w in CORPUS if not w) > 60


def test_promtool_lets_through_what_ecpctl_refuses_as_a_condition(promtool, tmp_path):
    """Strings and range vectors parse, but a rule evaluating to one fails at run time."""
    verdicts = promtool_verdicts(promtool, tmp_path, NOT_CONDITIONS)
    for expr in NOT_CONDITIONS:
        assert verdicts[expr][0], expr
        with pytest.raises(PromQLError):
            check_condition(expr)


def test_scoped_conditions_still_pass_promtool(promtool, tmp_path):
    accepted = [e for e, ok in CORPUS if ok]
    scoped = []
    for e in accepted:
        try:
            scoped.append(scope_expression(e, "acme"))
        except PromQLError:
            pass          # not a condition (a string or range vector); covered above
    verdicts = promtool_verdicts(promtool, tmp_path, scoped)
    bad = [e for e in scoped if not verdicts[e][0]]
    assert not bad, bad
    assert len(scoped) > 60
