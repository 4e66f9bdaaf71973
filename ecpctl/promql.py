"""PromQL checking and tenant scoping of user-written alert conditions.

A small recursive-descent parser for the PromQL of Prometheus 2.4x (selectors, functions,
aggregations, binary operators with vector matching, subqueries, offset and @) with the parser's
type rules, so that an expression Prometheus would reject is a plan-time error without promtool.
Scoping inserts `tenant_id="<id>"` into every vector selector of the text as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NoReturn

from ecpctl.kernel import durations

SCALAR, VECTOR, MATRIX, STRING = "scalar", "instant vector", "range vector", "string"
TENANT_LABEL = "tenant_id"

# name -> (argument types, variadic, return type); variadic: 0 fixed, -1 last argument optional,
# n > 0 up to n more of the last type (as Prometheus' promql/parser/functions.go declares them).
_V, _M, _S, _T = VECTOR, MATRIX, SCALAR, STRING
FUNCTIONS: dict[str, tuple[tuple[str, ...], int, str]] = {
    **{n: ((_V,), 0, _V) for n in (
        "abs", "absent", "ceil", "exp", "floor", "ln", "log2", "log10", "sgn", "sort",
        "sort_desc", "sqrt", "timestamp", "deg", "rad", "acos", "acosh", "asin", "asinh", "atan",
        "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "histogram_count",
        "histogram_sum")},
    **{n: ((_M,), 0, _V) for n in (
        "absent_over_time", "avg_over_time", "changes", "count_over_time", "delta", "deriv",
        "idelta", "increase", "irate", "last_over_time", "max_over_time", "min_over_time",
        "present_over_time", "rate", "resets", "stddev_over_time", "stdvar_over_time",
        "sum_over_time")},
    **{n: ((_V,), -1, _V) for n in (
        "days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour", "minute", "month",
        "year")},
    "clamp": ((_V, _S, _S), 0, _V),
    "clamp_max": ((_V, _S), 0, _V),
    "clamp_min": ((_V, _S), 0, _V),
    "histogram_fraction": ((_S, _S, _V), 0, _V),
    "histogram_quantile": ((_S, _V), 0, _V),
    "holt_winters": ((_M, _S, _S), 0, _V),
    "label_join": ((_V, _T, _T, _T), 1 << 16, _V),
    "label_replace": ((_V, _T, _T, _T, _T), 0, _V),
    "pi": ((), 0, _S),
    "predict_linear": ((_M, _S), 0, _V),
    "quantile_over_time": ((_S, _M), 0, _V),
    "round": ((_V, _S), -1, _V),
    "scalar": ((_V,), 0, _S),
    "time": ((), 0, _S),
    "vector": ((_S,), 0, _V),
}
AGGREGATORS = {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar",
               "topk", "bottomk", "quantile", "count_values"}
AGG_PARAM = {"topk": SCALAR, "bottomk": SCALAR, "quantile": SCALAR, "count_values": STRING}
# identifiers the grammar also accepts as metric names (`metric_identifier` in Prometheus' parser)
METRIC_KEYWORDS = AGGREGATORS | {"by", "without", "and", "or", "unless", "offset", "start", "end"}
RESERVED = {"bool", "on", "ignoring", "group_left", "group_right", "atan2"}
SET_OPS = {"and", "or", "unless"}
COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
PRECEDENCE = {"or": 1, "and": 2, "unless": 2, **{c: 3 for c in COMPARISONS},
              "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6}

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`[^`]*`)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_0-9.])
                |(?i:inf|nan)(?![A-Za-z_0-9:]))
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z_0-9]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_:]*|:[A-Za-z_][A-Za-z0-9_:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){}\[\],:@])
""", re.VERBOSE)
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ESCAPE = re.compile(r"\\(?:[abfnrtv\\'\"]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3})")


class PromQLError(ValueError):
    """An expression Prometheus would not accept; `column` is 1-based within the expression."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(f"{message} (column {column})" if column else message)
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Token:
    kind: str          # string | number | duration | ident | op | eof
    text: str
    pos: int           # 0-based offset


@dataclass
class Selector:
    """A vector selector as written: where to insert a matcher, and the matchers it has."""

    metric: str | None
    insert_at: int              # offset right after `{` (has_braces) or after the metric name
    has_braces: bool
    empty_braces: bool
    matchers: list[tuple[str, str, str]] = field(default_factory=list)   # (label, op, value)


@dataclass(frozen=True)
class Node:
    type: str
    # selector | matrix | subquery | number | string | paren | call | agg | unary | binary
    kind: str
    pos: int
    selector: Selector | None = None
    has_offset: bool = False
    has_at: bool = False


def _tokens(expr: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            ch = expr[pos]
            if ch in "\"'`":
                raise PromQLError("unterminated quoted string", pos + 1)
            if ch.isdigit() or ch == ".":
                word = re.match(r"[\w.]+", expr[pos:])
                raise PromQLError(f"bad number or duration syntax: {word.group() if word else ch!r}",
                                  pos + 1)
            raise PromQLError(f"unexpected character {ch!r}", pos + 1)
        kind = m.lastgroup or ""
        if kind != "space":
            out.append(Token(kind, m.group(), pos))
        pos = m.end()
    out.append(Token("eof", "", len(expr)))
    return out


def _check_string(tok: Token) -> str:
    body = tok.text[1:-1]
    if tok.text[0] == "`":
        return body
    for m in re.finditer(r"\\.", body):
        if not _ESCAPE.match(body, m.start()):
            raise PromQLError(f"unknown escape sequence {m.group()!r}", tok.pos + 1)
    try:
        return bytes(body, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return body


def _duration_ms(tok: Token) -> int:
    try:
        return durations.parse_duration(tok.text)
    except durations.DurationError:
        raise PromQLError(f"not a valid duration string: {tok.text!r}", tok.pos + 1) from None


def _matches_empty(op: str, value: str) -> bool:
    if op == "=":
        return value == ""
    if op == "!=":
        return value != ""
    try:
        hit = re.fullmatch(value, "") is not None
    except re.error:
        hit = False
    return hit if op == "=~" else not hit


class _Parser:
    def __init__(self, expr: str):
        self.expr = expr
        self.toks = _tokens(expr)
        self.i = 0
        self.selectors: list[Selector] = []

    # --- token helpers -------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, n: int = 1) -> Token:
        return self.toks[min(self.i + n, len(self.toks) - 1)]

    def next(self) -> Token:
        t = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return t

    def fail(self, message: str, tok: Token | None = None) -> NoReturn:
        t = tok or self.tok
        raise PromQLError(message, t.pos + 1)

    def unexpected(self, where: str = "") -> NoReturn:
        t = self.tok
        if t.kind == "eof":
            self.fail("unexpected end of input" + where)
        self.fail(f"unexpected {t.text!r}" + where)

    def is_op(self, text: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == text

    def expect_op(self, text: str, where: str = "") -> Token:
        if not self.is_op(text):
            self.unexpected(where or f", expected {text!r}")
        return self.next()

    def word(self, t: Token | None = None) -> str:
        t = t or self.tok
        return t.text.lower() if t.kind == "ident" else ""

    # --- grammar -------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.tok.kind == "eof":
            raise PromQLError("empty expression")
        node = self.binary(0)
        if self.tok.kind != "eof":
            if self.is_op(")"):
                self.fail("unexpected right parenthesis ')'")
            if self.is_op("]"):
                self.fail("unexpected right bracket ']'")
            if self.is_op("}"):
                self.fail("unexpected character: '}'")
            self.unexpected()
        return node

    def binop(self) -> str | None:
        t = self.tok
        if t.kind == "op" and t.text in PRECEDENCE:
            return t.text
        if t.kind == "ident" and t.text.lower() in ("and", "or", "unless", "atan2"):
            return t.text.lower()
        if t.kind == "op" and t.text == "=":
            self.fail("unexpected '=' (comparisons use ==)")
        return None

    def binary(self, min_prec: int) -> Node:
        left = self.unary()
        while True:
            op = self.binop()
            if op is None or PRECEDENCE[op] < min_prec:
                return left
            op_tok = self.next()
            return_bool = False
            if self.word() == "bool":
                self.next()
                return_bool = True
                if op not in COMPARISONS:
                    self.fail("bool modifier can only be used on comparison operators", op_tok)
            matching = grouping = False
            if self.word() in ("on", "ignoring"):
                self.next()
                self.label_list()
                matching = True
                if self.word() in ("group_left", "group_right"):
                    self.next()
                    grouping = True
                    if self.is_op("("):
                        self.label_list()
            elif self.word() in ("group_left", "group_right"):
                self.unexpected()
            # ^ is right-associative; the rest are left-associative
            right = self.binary(PRECEDENCE[op] if op == "^" else PRECEDENCE[op] + 1)
            left = self.check_binary(op, op_tok, left, right, return_bool, matching, grouping)

    def check_binary(self, op, op_tok, left: Node, right: Node, return_bool, matching,
                     grouping) -> Node:
        for side in (left, right):
            if side.type not in (SCALAR, VECTOR):
                self.fail("binary expression must contain only scalar and instant vector types",
                          op_tok)
        both_scalar = left.type == SCALAR and right.type == SCALAR
        if op in SET_OPS:
            if left.type == SCALAR or right.type == SCALAR:
                self.fail(f'set operator "{op}" not allowed in binary scalar expression', op_tok)
            if grouping:
                self.fail(f'no grouping allowed for "{op}" operation', op_tok)
        if op in COMPARISONS and both_scalar and not return_bool:
            self.fail("comparisons between scalars must use BOOL modifier", op_tok)
        if matching and (left.type != VECTOR or right.type != VECTOR):
            self.fail("vector matching only allowed between instant vectors", op_tok)
        return Node(SCALAR if both_scalar else VECTOR, "binary", left.pos)

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op_tok = self.next()
            # unary binds looser than ^: -2^2 is -(2^2)
            operand = self.binary(PRECEDENCE["^"])
            if operand.type not in (SCALAR, VECTOR):
                self.fail("unary expression only allowed on expressions of type scalar or "
                          f"instant vector, got {operand.type}", op_tok)
            return Node(operand.type, "unary", op_tok.pos)
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.is_op("["):
                node = self.range_or_subquery(node)
            elif self.word() == "offset" or self.is_op("@"):
                node = self.modifier(node)
            else:
                return node

    def range_or_subquery(self, node: Node) -> Node:
        open_tok = self.next()
        if self.tok.kind != "duration":
            if self.tok.kind == "number":
                self.fail("missing unit character in duration")
            if self.tok.kind == "eof":
                self.fail("unclosed left bracket", open_tok)
            self.unexpected(" in range, expected a duration")
        dur = self.next()
        if _duration_ms(dur) == 0:
            self.fail("duration must be greater than 0", dur)
        if self.is_op(":"):
            self.next()
            if self.tok.kind == "duration":
                step = self.next()
                if _duration_ms(step) == 0:
                    self.fail("duration must be greater than 0", step)
            if self.tok.kind == "eof":
                self.fail("unclosed left bracket", open_tok)
            self.expect_op("]")
            if node.type != VECTOR:
                self.fail(f"subquery is only allowed on instant vector, got {node.type}", open_tok)
            if node.kind in ("matrix", "subquery"):
                self.fail("ranges only allowed for vector selectors", open_tok)
            return Node(MATRIX, "subquery", node.pos)
        if self.tok.kind == "eof":
            self.fail("unclosed left bracket", open_tok)
        self.expect_op("]")
        if node.kind != "selector":
            self.fail("ranges only allowed for vector selectors", open_tok)
        if node.has_offset or node.has_at:
            self.fail("no offset or @ modifiers allowed before range", open_tok)
        return Node(MATRIX, "matrix", node.pos, selector=node.selector)

    def modifier(self, node: Node) -> Node:
        t = self.next()
        if node.kind not in ("selector", "matrix", "subquery"):
            self.fail("offset modifier must be preceded by an instant vector selector or range "
                      "vector selector or a subquery" if t.text != "@" else
                      "@ modifier must be preceded by an instant vector selector or range vector "
                      "selector or a subquery", t)
        if t.text == "@":
            if node.has_at:
                self.fail("@ <timestamp> may not be set multiple times", t)
            if self.word() in ("start", "end"):
                self.next()
                self.expect_op("(")
                self.expect_op(")")
            else:
                if self.tok.kind == "op" and self.tok.text in ("+", "-"):
                    self.next()
                if self.tok.kind != "number":
                    self.unexpected(" after @, expected a timestamp")
                self.next()
            return Node(node.type, node.kind, node.pos, node.selector, node.has_offset, True)
        if node.has_offset:
            self.fail("offset may not be set multiple times", t)
        if self.tok.kind == "op" and self.tok.text == "-":
            self.next()
        if self.tok.kind != "duration":
            self.unexpected(" after offset, expected a duration")
        self.next()
        return Node(node.type, node.kind, node.pos, node.selector, True, node.has_at)

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "number":
            self.next()
            return Node(SCALAR, "number", t.pos)
        if t.kind == "string":
            self.next()
            _check_string(t)
            return Node(STRING, "string", t.pos)
        if t.kind == "duration":
            self.fail(f"unexpected duration {t.text!r}")
        if self.is_op("("):
            self.next()
            inner = self.binary(0)
            if self.tok.kind == "eof":
                self.fail("unclosed left parenthesis")
            self.expect_op(")")
            return Node(inner.type, "paren", t.pos)
        if self.is_op("{"):
            return self.selector(None, t.pos, t.pos)
        if t.kind == "ident":
            word = t.text.lower()
            nxt = self.peek()
            if word in AGGREGATORS and ((nxt.kind == "op" and nxt.text == "(")
                                        or self.word(nxt) in ("by", "without")):
                return self.aggregation()
            if t.text in FUNCTIONS and nxt.kind == "op" and nxt.text == "(":
                return self.call()
            if nxt.kind == "op" and nxt.text == "(":
                self.fail(f"unknown function with name {t.text!r}")
            if word in RESERVED:
                self.fail(f"unexpected {t.text!r}")
            self.next()
            return self.selector(t.text, t.pos, t.pos + len(t.text))
        if t.kind == "eof":
            self.fail("unexpected end of input")
        if t.kind == "op" and t.text in ")]}":
            self.fail({")": "unexpected right parenthesis ')'", "]": "unexpected right bracket ']'",
                       "}": "unexpected character: '}'"}[t.text])
        self.unexpected()

    def selector(self, metric: str | None, pos: int, name_end: int) -> Node:
        sel = Selector(metric=metric, insert_at=name_end, has_braces=False, empty_braces=True)
        if self.is_op("{"):
            open_tok = self.next()
            sel.has_braces = True
            sel.insert_at = open_tok.pos + 1
            while not self.is_op("}"):
                if self.tok.kind == "eof":
                    self.fail("unexpected end of input inside braces")
                label = self.next()
                if label.kind != "ident" or not _LABEL.match(label.text):
                    if label.kind == "ident":
                        self.fail("unexpected character inside braces: ':'",
                                  Token("op", ":", label.pos + label.text.index(":")))
                    self.fail(f"unexpected {label.text!r} in label matching, expected label name",
                              label)
                op = self.tok
                if not (op.kind == "op" and op.text in ("=", "!=", "=~", "!~")):
                    self.unexpected(" in label matching, expected one of '=', '!=', '=~', '!~'")
                self.next()
                val_tok = self.tok
                if val_tok.kind != "string":
                    self.unexpected(" in label matching, expected string")
                self.next()
                value = _check_string(val_tok)
                if op.text in ("=~", "!~"):
                    try:
                        re.compile(value)
                    except re.error as exc:
                        self.fail(f"error parsing regexp: {exc}", val_tok)
                sel.matchers.append((label.text, op.text, value))
                sel.empty_braces = False
                if self.is_op(","):
                    self.next()
                elif not self.is_op("}"):
                    if self.tok.kind == "eof":
                        self.fail("unexpected end of input inside braces")
                    self.unexpected(" in label matching, expected ',' or '}'")
            self.next()
        names = [v for (lbl, op, v) in sel.matchers if lbl == "__name__"]
        if metric is not None and names:
            self.fail(f'metric name must not be set twice: "{metric}" or "{names[0]}"',
                      Token("ident", metric, pos))
        if metric is None and not any(not _matches_empty(op, v) for _, op, v in sel.matchers):
            self.fail("vector selector must contain at least one non-empty matcher",
                      Token("op", "{", pos))
        self.selectors.append(sel)
        return Node(VECTOR, "selector", pos, selector=sel)

    def label_list(self) -> None:
        self.expect_op("(", " in grouping opts, expected \"(\"")
        while not self.is_op(")"):
            t = self.tok
            if t.kind == "eof":
                self.fail("unexpected end of input in grouping opts")
            if t.kind != "ident" or not _LABEL.match(t.text):
                self.unexpected(" in grouping opts, expected label")
            self.next()
            if self.is_op(","):
                self.next()
            elif not self.is_op(")"):
                self.unexpected(" in grouping opts, expected \",\" or \")\"")
        self.next()

    def args(self) -> list[tuple[Node, Token]]:
        self.expect_op("(")
        out: list[tuple[Node, Token]] = []
        while not self.is_op(")"):
            if self.tok.kind == "eof":
                self.fail("unclosed left parenthesis")
            start = self.tok
            out.append((self.binary(0), start))
            if self.is_op(","):
                self.next()
                if self.is_op(")"):
                    self.unexpected()
            elif not self.is_op(")"):
                if self.tok.kind == "eof":
                    self.fail("unclosed left parenthesis")
                self.unexpected(", expected ',' or ')'")
        self.next()
        return out

    def call(self) -> Node:
        name_tok = self.next()
        name = name_tok.text
        types, variadic, ret = FUNCTIONS[name]
        args = self.args()
        n, want = len(args), len(types)
        if variadic == 0 and n != want:
            self.fail(f'expected {want} argument(s) in call to "{name}", got {n}', name_tok)
        if variadic < 0 and not (want + variadic <= n <= want):
            if n > want:
                self.fail(f'expected at most {want} argument(s) in call to "{name}", got {n}',
                          name_tok)
            self.fail(f'expected at least {want + variadic} argument(s) in call to "{name}", '
                      f"got {n}", name_tok)
        if variadic > 0 and not (want <= n <= want + variadic):
            self.fail(f'expected at least {want} argument(s) in call to "{name}", got {n}',
                      name_tok)
        for k, (node, start) in enumerate(args):
            expected = types[min(k, want - 1)]
            if node.type != expected:
                self.fail(f'expected type {expected} in call to function "{name}", '
                          f"got {node.type}", start)
        return Node(ret, "call", name_tok.pos)

    def aggregation(self) -> Node:
        name_tok = self.next()
        name = name_tok.text.lower()
        grouped = False
        if self.word() in ("by", "without"):
            self.next()
            self.label_list()
            grouped = True
        args = self.args()
        if not grouped and self.word() in ("by", "without"):
            self.next()
            self.label_list()
        want = 2 if name in AGG_PARAM else 1
        if len(args) != want:
            self.fail(f"wrong number of arguments for aggregate expression provided, expected "
                      f"{want}, got {len(args)}", name_tok)
        if name in AGG_PARAM and args[0][0].type != AGG_PARAM[name]:
            self.fail(f"expected type {AGG_PARAM[name]} in aggregation parameter, "
                      f"got {args[0][0].type}", args[0][1])
        node, start = args[-1]
        if node.type != VECTOR:
            self.fail(f"expected type instant vector in aggregation expression, got {node.type}",
                      start)
        return Node(VECTOR, "agg", name_tok.pos)


@dataclass(frozen=True)
class Parsed:
    type: str
    selectors: tuple[Selector, ...]


def parse(expr: str) -> Parsed:
    """Check `expr` as Prometheus' parser would; raises PromQLError with the column."""
    p = _Parser(expr)
    node = p.parse()
    return Parsed(node.type, tuple(p.selectors))


def check_condition(expr: str) -> Parsed:
    """An alert condition: a valid expression whose value is an instant vector or a scalar."""
    if not expr.strip():
        raise PromQLError("empty expression")
    parsed = parse(expr)
    if parsed.type not in (VECTOR, SCALAR):
        raise PromQLError(f"an alert condition must be an instant vector or a scalar, "
                          f"not a {parsed.type}")
    return parsed


def scope_expression(expr: str, tenant_id: str) -> str:
    """`expr` with `tenant_id="<id>"` added to every vector selector, as the user wrote it otherwise.

    A condition that selects `tenant_id` itself is refused: ecpctl decides whose metrics it sees.
    """
    parsed = check_condition(expr)
    for sel in parsed.selectors:
        for label, _, _ in sel.matchers:
            if label == TENANT_LABEL:
                raise PromQLError(f"the condition must not select {TENANT_LABEL}: ecpctl scopes "
                                  f"every selector to the tenant", sel.insert_at)
    matcher = f'{TENANT_LABEL}="{tenant_id}"'
    out = expr
    for sel in sorted(parsed.selectors, key=lambda s: s.insert_at, reverse=True):
        if not sel.has_braces:
            text = "{" + matcher + "}"
        elif sel.empty_braces:
            text = matcher
        else:
            text = matcher + ","
        out = out[:sel.insert_at] + text + out[sel.insert_at:]
    return out.strip()
