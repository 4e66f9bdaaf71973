"""Reading spec files: find them, read them as untrusted input, split them into YAML documents.

Every problem (an unreadable or oversized file, binary content, YAML syntax, refused YAML features,
duplicate keys) becomes a diagnostic with its position here; nothing raises. Positions of valid
documents are found only when a later check needs one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ecpctl.config.positions import PositionIndex
from ecpctl.config.reading import SUFFIXES, SpecFile, find_files, read_text
from ecpctl.config.yaml_reader import positions, read_yaml
from ecpctl.kernel import Diagnostic
from ecpctl.kernel.text import printable


@dataclass(frozen=True)
class RawDocument:
    file: str
    index: int                    # position of the document in its file, from 0
    data: Any                     # plain Python data (dict, list, str, int, float, bool, None)
    positions: PositionIndex


def read_documents(spec: SpecFile) -> tuple[list[RawDocument], list[Diagnostic]]:
    """The non-empty documents of one file, or the diagnostics that stopped reading it."""
    text, problems = read_text(spec)
    if text is None:
        return [], problems
    shown = printable(spec.display)
    found, problems = read_yaml(text, shown)
    if problems:
        return [], problems
    if not found:
        return [], [Diagnostic.warning("file contains no YAML documents; ignored", file=shown)]
    source = _Source(text)
    return [RawDocument(shown, i, data, LazyPositions(source, i)) for i, data in found], []


class _Source:
    """One file's text, kept so positions can be found when first needed."""

    def __init__(self, text: str):
        self._text = text
        self._lock = threading.Lock()
        self._indexes: dict[int, PositionIndex] = {}

    def index(self, i: int) -> PositionIndex:
        with self._lock:
            if i not in self._indexes:
                self._indexes[i] = positions(self._text, i)
            return self._indexes[i]


class LazyPositions:
    """A PositionIndex for one document that is built on first use: valid specs never pay for it."""

    def __init__(self, source: _Source, i: int):
        self._source = source
        self._i = i

    def __getattr__(self, name: str):
        return getattr(self._source.index(self._i), name)


__all__ = ["SpecFile", "RawDocument", "SUFFIXES", "find_files", "read_documents"]
