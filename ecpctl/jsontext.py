"""`json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1)`, the same text, faster.

Dashboards held in ConfigMaps are written with an indent so that people can read them. With an
indent, the standard library encodes in pure Python through nested generators: in the offline plan
of 1,000 tenants that was a third of the expansion's time. This encoder builds the same text with
plain recursion and the C string escaper; anything it does not handle the standard way (a key that
is not a string, a float that is not finite, a type JSON has no form for) falls back to
`json.dumps` itself, so the output is always exactly the standard library's.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C implementation when available
from typing import Any


class _Fallback(Exception):
    pass


def dumps_indented(value: Any) -> str:
    """The text of `json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1)`."""
    out: list[str] = []
    try:
        _encode(value, out, "\n")
    except _Fallback:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1)
    return "".join(out)


def _encode(v: Any, out: list[str], nl: str) -> None:
    t = type(v)
    if t is str:
        out.append(encode_basestring(v))
    elif t is dict or t is list:
        if not v:
            out.append("{}" if t is dict else "[]")
            return
        inner = nl + " "
        sep = "{" if t is dict else "["
        if t is dict:
            for k in sorted(v):
                if type(k) is not str:
                    raise _Fallback
                out.append(sep + inner + encode_basestring(k) + ": ")
                sep = ","
                _encode(v[k], out, inner)
        else:
            for item in v:
                out.append(sep + inner)
                sep = ","
                _encode(item, out, inner)
        out.append(nl + ("}" if t is dict else "]"))
    elif v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif t is int:
        out.append(int.__repr__(v))
    elif t is float and v == v and v not in (float("inf"), float("-inf")):
        out.append(float.__repr__(v))
    else:
        raise _Fallback
