"""Attribute paths: which leaves differ between two views (deepdiff), and sensitive-path matching.

One syntax everywhere (sensitive paths, requires-replace paths, diffs, state encryption, `get_path`):
keys joined by dots, list indexes in brackets: `spec.template.spec.containers[0].image`. A key that
holds a dot or a bracket is written quoted in brackets: `metadata.labels["ecp.ai/tenant"]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

PathKey = tuple[Any, ...]  # a path as a tuple of dict keys (str) and list indexes (int)


_PLAIN_KEY = re.compile(r"[^.\[\]\"]+")
_TOKEN = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def dotted(path: Sequence[Any]) -> str:
    """`("spec", "containers", 0, "image")` -> `spec.containers[0].image`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            out += ("." if out else "") + str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def parse_path(text: str) -> tuple[Any, ...]:
    """The inverse of `dotted`: `a.b[0]["x.y"]` -> `("a", "b", 0, "x.y")`; ValueError if malformed."""
    parts: list[Any] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or (m.group(1) is not None and (pos == 0) != (text[pos] != ".")):
            raise ValueError(f"malformed attribute path {text!r} at column {pos + 1} "
                             "(use e.g. spec.containers[0].image)")
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            parts.append(json.loads(m.group(3)))
        pos = m.end()
    if not parts:
        raise ValueError("empty attribute path")
    return tuple(parts)


def diff_paths(before: Any, after: Any) -> list[tuple[Any, ...]]:
    """Paths (as tuples) of every added, removed or changed leaf, sorted; computed with deepdiff."""
    if before == after:
        return []
    from deepdiff import DeepDiff  # 0.1 s to import: only when something differs

    dd = DeepDiff(before, after, view="tree", ignore_order=False, verbose_level=2)
    paths: set[tuple[Any, ...]] = set()
    for items in dd.values():
        for item in items:
            paths.add(tuple(item.path(output_format="list")))
    return sorted(paths, key=lambda p: [str(x) for x in p])


def changed_paths(before: Any, after: Any) -> list[str]:
    return [dotted(p) for p in diff_paths(before, after)]


def is_sensitive(path: Sequence[Any], sensitive: Iterable[str]) -> bool:
    """True when `path` is at or under one of the dotted `sensitive` paths."""
    text = dotted(path)
    for s in sensitive:
        if text == s or text.startswith(s + ".") or text.startswith(s + "["):
            return True
    return False


REDACTED = "(sensitive value)"


def redact(value: Any, sensitive: Iterable[str], _path: tuple[Any, ...] = ()) -> Any:
    """A copy of `value` with every sensitive subtree replaced by a marker."""
    sens = tuple(sensitive)
    if not sens:
        return value
    if _path and is_sensitive(_path, sens):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, sens, _path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, sens, _path + (i,)) for i, v in enumerate(value)]
    return value
