"""Reading spec files: find them, decode them, split them into YAML documents with positions.

YAML problems (syntax, duplicate keys, undecodable bytes) become diagnostics here; nothing raises.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode

from ecpctl.config.positions import PositionIndex, format_path
from ecpctl.kernel import Diagnostic

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SpecFile:
    path: Path       # where to read it
    display: str     # how to name it in messages: as the user gave PATH, then the relative part


@dataclass(frozen=True)
class RawDocument:
    file: str
    index: int                    # position of the document in its file, from 0
    data: Any                     # plain Python data (dict, list, str, int, float, bool, None)
    positions: PositionIndex


def find_files(path: str | Path) -> tuple[list[SpecFile], list[Diagnostic]]:
    """PATH itself when it is a file, else every *.yaml / *.yml below it (sorted, no hidden ones)."""
    given = str(path)
    root = Path(path)
    if not root.exists():
        return [], [Diagnostic.error("no such file or directory", file=given)]
    if root.is_file():
        return [SpecFile(root, given)], []
    if not root.is_dir():
        return [], [Diagnostic.error("not a file or directory", file=given)]
    found = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix in SUFFIXES and p.is_file():
            found.append((rel.as_posix(), p))
    if not found:
        return [], [Diagnostic.error("no spec files (*.yaml, *.yml) found", file=given)]
    files = [SpecFile(p, (Path(given) / rel).as_posix()) for rel, p in sorted(found)]
    return files, []


def read_documents(spec: SpecFile) -> tuple[list[RawDocument], list[Diagnostic]]:
    """The non-empty documents of one file, or the diagnostics that stopped reading it."""
    try:
        raw = spec.path.read_bytes()
    except OSError as exc:
        return [], [Diagnostic.error(f"cannot read file: {exc.strerror or exc}", file=spec.display)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [], [Diagnostic.error(
            f"cannot read file: not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            file=spec.display, line=line, column=col)]

    fast = _fast_documents(spec, text)
    if fast is not None:
        return fast
    docs: list[RawDocument] = []
    diags: list[Diagnostic] = []
    try:
        for i, node in enumerate(_yaml().load_all(text)):
            if node is None:
                continue
            docs.append(RawDocument(spec.display, i, to_plain(node), PositionIndex.build(node)))
    except DuplicateKeyError:
        return [], duplicate_keys(text, spec.display)
    except MarkedYAMLError as exc:
        diags.append(_syntax_error(exc, spec.display))
    except YAMLError as exc:  # pragma: no cover - ruamel marks nearly every error
        diags.append(Diagnostic.error(f"YAML error: {exc}", file=spec.display))
    except RecursionError:
        diags.append(Diagnostic.error("YAML nesting is too deep", file=spec.display))
    if not docs and not diags:
        diags.append(Diagnostic.warning("file contains no YAML documents; ignored", file=spec.display))
    return docs, diags


def _fast_documents(spec: SpecFile, text: str) -> tuple[list[RawDocument], list[Diagnostic]] | None:
    """Plain data from the C-accelerated safe loader (same YAML 1.2 rules, ~25x faster), with
    positions found lazily; None when the file has any YAML problem, so the round-trip loader
    reads it again and reports the problem precisely."""
    try:
        datas = list(_safe().load_all(text))
    except Exception:  # noqa: BLE001 - any problem: the precise path below reports it
        return None
    source = _RoundTripSource(text)
    docs = [RawDocument(spec.display, i, data, LazyPositions(source, i))
            for i, data in enumerate(datas) if data is not None]
    if not docs:
        return [], [Diagnostic.warning("file contains no YAML documents; ignored", file=spec.display)]
    return docs, []


class _RoundTripSource:
    """One file's text, parsed with the round-trip loader only when a position is first needed."""

    def __init__(self, text: str):
        self._text = text
        self._lock = threading.Lock()
        self._indexes: list[PositionIndex | None] | None = None

    def index(self, i: int) -> PositionIndex:
        with self._lock:
            if self._indexes is None:
                self._indexes = [PositionIndex.build(node) if node is not None else None
                                 for node in _yaml().load_all(self._text)]
            found = self._indexes[i]
        return found if found is not None else PositionIndex()


class LazyPositions:
    """A PositionIndex for one document that is built on first use: valid specs never pay for it."""

    def __init__(self, source: _RoundTripSource, i: int):
        self._source = source
        self._i = i

    def __getattr__(self, name: str):
        return getattr(self._source.index(self._i), name)


def _safe() -> YAML:
    y = YAML(typ="safe", pure=False)
    y.allow_duplicate_keys = False
    return y


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y


def _syntax_error(exc: MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    if exc.context and exc.problem and exc.context != exc.problem:
        problem = f"{problem} ({exc.context.strip()})"
    return Diagnostic.error(f"YAML syntax error: {problem}", file=file,
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None)


def duplicate_keys(text: str, file: str) -> list[Diagnostic]:
    """Every repeated key in `text`, each pointing at the repeat and naming the first definition."""
    diags: list[Diagnostic] = []
    try:
        for root in _yaml().compose_all(text):
            for path, first, again in _repeats(root, ()):
                diags.append(Diagnostic.error(
                    f"duplicate key '{path[-1]}' (first defined at line {first.line + 1})",
                    file=file, line=again.line + 1, column=again.column + 1,
                    field=format_path(path)))
    except MarkedYAMLError as exc:
        diags.append(_syntax_error(exc, file))
    return diags


def _repeats(node: Any, path: tuple) -> Iterator[tuple[tuple, Any, Any]]:
    if isinstance(node, MappingNode):
        seen: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = getattr(knode, "value", None)
            if not isinstance(key, str) or key == "<<":
                continue
            if key in seen:
                yield path + (key,), seen[key], knode.start_mark
            else:
                seen[key] = knode.start_mark
            yield from _repeats(vnode, path + (key,))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _repeats(item, path + (i,))


def to_plain(node: Any) -> Any:
    """ruamel's round-trip types (CommentedMap, ScalarFloat, ...) as plain Python values."""
    if isinstance(node, dict):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or type(node).__name__ == "ScalarBoolean":
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node  # None, dates and timestamps pass as they are
