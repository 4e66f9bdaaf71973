"""Formatting of attribute values the way Terraform prints them.

Values read back from live systems or state can hold anything: every scalar goes through
`printable`, so no control character or bidirectional override reaches the terminal as itself
(JSON's escaping leaves DEL, C1 and U+202A..U+2069 as they are)."""

from __future__ import annotations

import json
from typing import Any

from ecpctl.kernel.text import printable


def scalar(value: Any) -> str:
    if isinstance(value, str):
        return printable(json.dumps(value, ensure_ascii=False))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    return printable(json.dumps(value, ensure_ascii=False, sort_keys=True))


def is_container(value: Any) -> bool:
    return isinstance(value, (dict, list)) and bool(value)


def embedded_json(value: Any) -> Any:
    """The object or array a string holds as JSON text (a Grafana dashboard in a ConfigMap), else
    None: such strings are shown and diffed as structures, not as one escaped line."""
    if not isinstance(value, str) or len(value) < 2:
        return None
    head = value.lstrip()[:1]
    if head not in ("{", "["):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) and parsed else None
