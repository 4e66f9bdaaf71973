"""Formatting of attribute values the way Terraform prints them."""

from __future__ import annotations

import json
from typing import Any


def scalar(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
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
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def is_container(value: Any) -> bool:
    return isinstance(value, (dict, list)) and bool(value)
