"""Attribute paths: which leaves differ between two views (deepdiff), and sensitive-path matching."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

PathKey = tuple  # a path as a tuple of dict keys (str) and list indexes (int)


def dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def diff_paths(before: Any, after: Any) -> list[tuple[Any, ...]]:
    """Paths (as tuples) of every added, removed or changed leaf, sorted; computed with deepdiff."""
    if before == after:
        return []
    from deepdiff import DeepDiff   # 0.1 s to import: only when something differs

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


def redact(value: Any, sensitive: Iterable[str], _path: tuple = ()) -> Any:
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
