"""Where each key and value of a YAML document sits (1-based line and column), by field path.

Built from the YAML parser's events (ecpctl/config/yaml_reader.py), then plain data; later stages
(PromQL parsing, expansion) use it to point at the exact line of a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Mapping

Path = tuple[Any, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class PositionIndex:
    """Positions of every node of one document. `values[()]` is the document's own start."""

    values: Mapping[Path, Position] = field(default_factory=dict)
    keys: Mapping[Path, Position] = field(default_factory=dict)

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
