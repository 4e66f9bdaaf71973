"""Where each key and value of a YAML document sits (1-based line and column), by field path.

Built once from ruamel.yaml's round-trip nodes, then plain immutable data; later stages (PromQL
parsing, expansion) use it to point at the exact line of a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from ruamel.yaml.comments import CommentedMap, CommentedSeq

Path = tuple[Any, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class PositionIndex:
    """Positions of every node of one document. `values[()]` is the document's own start."""

    values: Mapping[Path, Position] = field(default_factory=dict)
    keys: Mapping[Path, Position] = field(default_factory=dict)

    @classmethod
    def build(cls, root: Any, start: Position = (1, 1)) -> "PositionIndex":
        values: dict[Path, Position] = {(): _own_position(root) or start}
        keys: dict[Path, Position] = {}
        _walk(root, (), values, keys, set())
        return cls(MappingProxyType(values), MappingProxyType(keys))

    def value(self, path: Iterable[Any]) -> Position:
        """Position of the value at `path`, or of its nearest ancestor that exists."""
        path = tuple(path)
        while path not in self.values:
            path = path[:-1]
        return self.values[path]

    def key(self, path: Iterable[Any]) -> Position:
        """Position of the key (or list item) at `path`, falling back like `value`."""
        path = tuple(path)
        if path in self.keys:
            return self.keys[path]
        return self.value(path)

    def exact(self, path: Iterable[Any]) -> Position | None:
        """Position of the value at `path` when it is present in the file, else None."""
        return self.values.get(tuple(path))

    def holder(self, path: Iterable[Any]) -> Position:
        """Where the mapping at `path` is introduced: its key (`sla:`), list item, or the document."""
        path = tuple(path)
        while path and path not in self.values:
            path = path[:-1]
        return self.key(path) if path else self.values[()]


def _own_position(node: Any) -> Position | None:
    if isinstance(node, (CommentedMap, CommentedSeq)) and node.lc.line is not None:
        return node.lc.line + 1, node.lc.col + 1
    return None


def _walk(node: Any, path: Path, values: dict, keys: dict, active: set[int]) -> None:
    if id(node) in active:  # a recursive alias: stop rather than loop
        return
    if isinstance(node, CommentedMap):
        active.add(id(node))
        for k in node:
            child = path + (k,)
            kpos, vpos = _pair_positions(node, k)
            if kpos:
                keys[child] = kpos
            sub = node[k]
            values[child] = _own_position(sub) if _is_block(sub) else (vpos or kpos or values[path])
            _walk(sub, child, values, keys, active)
        active.discard(id(node))
    elif isinstance(node, CommentedSeq):
        active.add(id(node))
        for i, sub in enumerate(node):
            child = path + (i,)
            ipos = _item_position(node, i)
            if ipos:
                keys[child] = ipos
            values[child] = (_own_position(sub) if _is_block(sub) else None) or ipos or values[path]
            _walk(sub, child, values, keys, active)
        active.discard(id(node))


def _is_block(node: Any) -> bool:
    return _own_position(node) is not None


def _pair_positions(node: CommentedMap, key: Any) -> tuple[Position | None, Position | None]:
    try:
        kl, kc, vl, vc = node.lc.data[key]
    except (KeyError, TypeError, ValueError):  # merged (`<<`) keys have no position of their own
        return None, None
    return (kl + 1, kc + 1), (vl + 1, vc + 1)


def _item_position(node: CommentedSeq, index: int) -> Position | None:
    try:
        line, col = node.lc.data[index]
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    return line + 1, col + 1


def format_path(path: Iterable[Any]) -> str:
    """`("spec", "monitoring", "alerts", 0, "for")` -> `spec.monitoring.alerts[0].for`."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_path(text: str) -> Path:
    """Inverse of format_path: `spec.monitoring.alerts[0].for` -> the tuple path."""
    parts: list[Any] = []
    for chunk in text.split("."):
        name, _, rest = chunk.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index))
            rest = rest.lstrip("[")
    return tuple(parts)
