"""Tenant scoping of user-written alert conditions: every metric selector gets `tenant_id="<id>"`.

A light tokenizer, not a full PromQL parser: it understands identifiers, label matchers, strings,
numbers, durations and function calls well enough to scope selectors, and rejects unbalanced input.
"""

from __future__ import annotations

import re

AGGREGATORS = {"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk",
               "quantile", "count_values", "group", "limitk", "limit_ratio"}
LABEL_LIST = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "atan2", "inf", "nan"}
TOKEN = re.compile(r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<duration>\[[^\]]*\])
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<space>\s+)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){},])
""", re.VERBOSE)


class PromQLError(ValueError):
    pass


def scope_expression(expr: str, tenant_id: str) -> str:
    tokens = []
    pos = 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise PromQLError(f"unexpected character {expr[pos]!r} at offset {pos}")
        tokens.append((m.lastgroup, m.group()))
        pos = m.end()
    depth_paren = depth_brace = 0
    out: list[str] = []
    matcher = f'tenant_id="{tenant_id}"'
    saw_operand = False
    label_list_depth: int | None = None     # inside `by (...)` and friends: label names, not metrics
    pending_label_list = False
    for i, (kind, text) in enumerate(tokens):
        if kind == "op":
            if text == "(":
                depth_paren += 1
                if pending_label_list:
                    label_list_depth, pending_label_list = depth_paren, False
            elif text == ")":
                if label_list_depth == depth_paren:
                    label_list_depth = None
                depth_paren -= 1
            elif text == "{":
                depth_brace += 1
            elif text == "}":
                depth_brace -= 1
            if depth_paren < 0 or depth_brace < 0:
                raise PromQLError(f"unbalanced {text!r}")
            out.append(text)
            continue
        if kind == "ident" and text.lower() in LABEL_LIST:
            pending_label_list = True
        if kind == "ident" and depth_brace == 0 and text.lower() not in KEYWORDS \
                and label_list_depth is None:
            nxt = next((t for t in tokens[i + 1:] if t[0] != "space"), None)
            if (nxt and nxt[1] == "(") or text in AGGREGATORS:
                out.append(text)               # a function call or an aggregation
                continue
            saw_operand = True
            if nxt and nxt[1] == "{":
                out.append(text + "{" + matcher + ",")
                # skip the brace we just emitted when we reach it
                tokens[tokens.index(nxt, i + 1)] = ("skip", "")
                depth_brace += 1
                continue
            out.append(f"{text}{{{matcher}}}")
            continue
        if kind == "number":
            saw_operand = True
        out.append(text)
    if depth_paren or depth_brace:
        raise PromQLError("unbalanced parentheses or braces")
    if not saw_operand:
        raise PromQLError("no metric or value in expression")
    result = "".join(out)
    if re.search(r"(?:^|[^=!<>])(?:>|<|==|!=|>=|<=)\s*$", result) or re.match(r"^\s*(?:>|<|==|!=)", result):
        raise PromQLError("comparison is missing an operand")
    return result
