"""A strict YAML reader for spec files: the C parser's events turned into plain data in one pass.

Spec files are YAML 1.2 without the features a hostile file uses and a tenant file has no need
for, each refused at its position: tags (`!!python/...`, `!!binary`, `!foo`), anchors, aliases and
merge keys (a "billion laughs" file never expands), directives, nesting deeper than MAX_DEPTH,
duplicate keys, numbers of more than MAX_NUMBER_DIGITS digits, and control characters written as
escapes. Scalars resolve by the YAML 1.2 core schema alone (no timestamps, no `yes`/`no`).
Positions are found on demand by a second pass over the events (`positions`).
"""

from __future__ import annotations

import math
import re
from typing import Any
from collections.abc import Iterator

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (AliasEvent, DocumentEndEvent, DocumentStartEvent,
                                MappingEndEvent, MappingStartEvent, ScalarEvent,
                                SequenceEndEvent, SequenceStartEvent)

from ecpctl.config.limits import MAX_DEPTH, MAX_NUMBER_DIGITS, MAX_PROBLEMS_PER_FILE
from ecpctl.config.positions import PositionIndex, format_path
from ecpctl.kernel import Diagnostic
from ecpctl.kernel.text import UNSAFE, describe_char, printable

try:
    from _ruamel_yaml import CParser as _CParser  # type: ignore[import-not-found]  # C parser
except ImportError:  # pragma: no cover - ruamel.yaml.clib is a dependency
    _CParser = None

_NULL = re.compile(r"~|null|Null|NULL|")
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
# The first characters a number can have; with those of null and the booleans, every plain scalar
# the core schema makes other than a string (anything else is a string without a regex tried).
_NUMBER_START = frozenset("0123456789+-.")
_NOT_TEXT_START = _NUMBER_START | frozenset("~nNtTfF")
_REFUSED_FEATURES = "spec files allow no anchors, aliases or merge keys; write the value out"


_DROP = object()   # the key of a value that is read (for its problems) and dropped


class _Stop(Exception):
    """Reading this file ends here (too deep, or too many problems)."""


def _events(text: str) -> Iterator[Any]:
    """The C parser's events, read from the parser itself: `YAML().parse` builds a YAML object
    and a loader class per call, reference cycles that the cyclic GC must collect (a third of
    an offline plan's garbage at 1,000 tenants), for events that are the same."""
    if _CParser is None:  # pragma: no cover - ruamel.yaml.clib is a dependency
        yield from YAML(typ="safe", pure=False).parse(text)
        return
    parser = _CParser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def resolve(value: str) -> Any:
    """A plain scalar by the YAML 1.2 core schema."""
    if value and value[0] not in _NOT_TEXT_START:
        return value
    if _NULL.fullmatch(value):
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.fullmatch(value):
        return int(value)
    if _OCT.fullmatch(value):
        return int(value[2:], 8)
    if _HEX.fullmatch(value):
        return int(value[2:], 16)
    if _FLOAT.fullmatch(value):
        return float(value)
    if _INF.fullmatch(value):
        return -math.inf if value.startswith("-") else math.inf
    if _NAN.fullmatch(value):
        return math.nan
    return value


def _is_plain(ev: ScalarEvent) -> bool:
    return not ev.style and ev.implicit[0]


def _tag(tag: str) -> str:
    return printable(tag.replace("tag:yaml.org,2002:", "!!"))


class _Frame:
    __slots__ = ("container", "path", "key", "has_key", "key_mark", "seen")

    def __init__(self, container: Any, path: tuple):
        self.container = container
        self.path = path
        self.key: Any = None
        self.has_key = False
        self.key_mark: Any = None
        self.seen: dict[Any, int] = {}


class _Reader:
    """One pass over one file's events: documents as plain data, and the problems found."""

    def __init__(self, file: str):
        self.file = file
        self.docs: list[tuple[int, Any]] = []
        self.diags: list[Diagnostic] = []
        self.reported: set[str] = set()

    def refuse(self, feature: str, mark: Any, path: tuple, message: str) -> None:
        """A refused YAML feature, reported where it is first used in the file: a billion-laughs
        file says so in two lines, not in hundreds."""
        if feature not in self.reported:
            self.reported.add(feature)
            self.problem(mark, path, message)

    def problem(self, mark: Any, path: tuple, message: str) -> None:
        self.diags.append(Diagnostic.error(message, file=self.file, line=mark.line + 1,
                                           column=mark.column + 1,
                                           field=format_path(path) or None))
        if len(self.diags) >= MAX_PROBLEMS_PER_FILE:
            self.diags.append(Diagnostic.error(
                f"too many problems; stopped reading after {MAX_PROBLEMS_PER_FILE}",
                file=self.file, line=mark.line + 1, column=mark.column + 1))
            raise _Stop

    def read(self, text: str) -> None:
        try:
            self._read(text)
        except _Stop:
            pass
        except MarkedYAMLError as exc:
            self.diags.append(syntax_error(exc, self.file, text))
        except YAMLError as exc:  # pragma: no cover - the C parser marks its errors
            self.diags.append(Diagnostic.error(f"YAML error: {printable(str(exc))}",
                                               file=self.file, line=1, column=1))

    def _read(self, text: str) -> None:
        stack: list[_Frame] = []
        index = -1
        root: Any = None
        for ev in _events(text):
            if isinstance(ev, DocumentStartEvent):
                index += 1
                root = None
                if (ev.version not in (None, (1, 2))) or ev.tags:
                    self.refuse("directive", ev.start_mark, (), "YAML directives (%YAML 1.1, %TAG) are not "
                                 "allowed; spec files are read as YAML 1.2")
                continue
            if isinstance(ev, (MappingEndEvent, SequenceEndEvent)):
                stack.pop()
                continue
            if isinstance(ev, DocumentEndEvent):
                if root is not None:
                    self.docs.append((index, root))
                continue
            if not isinstance(ev, (ScalarEvent, MappingStartEvent, SequenceStartEvent,
                                   AliasEvent)):
                continue
            parent = stack[-1] if stack else None
            is_key = parent is not None and isinstance(parent.container, dict) \
                and not parent.has_key
            path = self._path(parent, is_key)
            if isinstance(ev, AliasEvent):
                self.refuse("alias", ev.start_mark, path, f"YAML alias '*{printable(str(ev.anchor))}' "
                             f"refused: {_REFUSED_FEATURES}")
                value: Any = None
            else:
                if ev.anchor is not None:
                    self.refuse("anchor", ev.start_mark, path, f"YAML anchor '&{printable(str(ev.anchor))}' "
                                 f"refused: {_REFUSED_FEATURES}")
                if ev.tag is not None:
                    self.refuse("tag", ev.start_mark, path, f"YAML tag '{_tag(ev.tag)}' refused: spec "
                                 "files allow no tags; write a plain value (quote it for a string)")
                if isinstance(ev, ScalarEvent):
                    value = self._scalar(ev, path, is_key)
                else:
                    value = {} if isinstance(ev, MappingStartEvent) else []
                    if len(stack) >= MAX_DEPTH:
                        self.problem(ev.start_mark, path, f"nesting deeper than {MAX_DEPTH} "
                                     "levels is not allowed in a spec file")
                        raise _Stop
            if parent is None:
                root = value
                if isinstance(value, (dict, list)):
                    stack.append(_Frame(value, ()))
                continue
            if is_key:
                self._key(parent, ev, value, path)
            else:
                self._store(parent, value)
            if isinstance(value, (dict, list)) and not isinstance(ev, AliasEvent):
                stack.append(_Frame(value, path))

    @staticmethod
    def _path(parent: _Frame | None, is_key: bool) -> tuple:
        if parent is None:
            return ()
        if isinstance(parent.container, list):
            return parent.path + (len(parent.container),)
        return parent.path + ((parent.key,) if parent.has_key else ())

    def _scalar(self, ev: ScalarEvent, path: tuple, is_key: bool) -> Any:
        text = ev.value
        if _is_plain(ev):
            if is_key and text == "<<":
                self.refuse("merge", ev.start_mark, path, f"YAML merge key '<<' refused: {_REFUSED_FEATURES}")
            digits = (sum(c.isdigit() for c in text[:MAX_NUMBER_DIGITS * 2])
                      if text[:1] in _NUMBER_START else 0)
            if digits > MAX_NUMBER_DIGITS and (_INT.fullmatch(text) or _FLOAT.fullmatch(text)):
                self.problem(ev.start_mark, path,
                             f"number with more than {MAX_NUMBER_DIGITS} digits")
                return None
            value = resolve(text)
            if not isinstance(value, str):
                return value
        if bad := UNSAFE.search(text):
            self.problem(ev.start_mark, path, f"control character {describe_char(bad.group())} "
                         "is not allowed in a spec value")
        return text

    def _key(self, parent: _Frame, ev: Any, key: Any, path: tuple) -> None:
        if isinstance(key, (dict, list)) or isinstance(ev, AliasEvent) or \
                (isinstance(key, float) and math.isnan(key)):
            if not isinstance(ev, AliasEvent):
                self.problem(ev.start_mark, path, "a mapping key must be a plain value")
            key = _DROP
        elif key in parent.seen:
            self.problem(ev.start_mark, path + (key,),
                         f"duplicate key '{printable(str(key))}' (first defined at line "
                         f"{parent.seen[key]})")
            key = _DROP
        else:
            parent.seen[key] = ev.start_mark.line + 1
        parent.key = key
        parent.has_key = True

    @staticmethod
    def _store(parent: _Frame, value: Any) -> None:
        if isinstance(parent.container, list):
            parent.container.append(value)
            return
        if parent.key is not _DROP:
            parent.container[parent.key] = value
        parent.key = None
        parent.has_key = False


def read_yaml(text: str, file: str) -> tuple[list[tuple[int, Any]], list[Diagnostic]]:
    """The documents of one file as (index, plain data), and the problems that refuse it.

    Empty documents are left out. When there is any problem, no document is returned."""
    reader = _Reader(file)
    reader.read(text)
    if reader.diags:
        return [], reader.diags
    return [(i, d) for i, d in reader.docs if d is not None], []


def syntax_error(exc: MarkedYAMLError, file: str, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    if mark is not None and _char_at(text, mark) == "\t":
        problem = "a tab character cannot indent YAML (indent with spaces)"
    elif exc.context and exc.problem and exc.context != exc.problem:
        problem = f"{problem} ({exc.context.strip()})"
    return Diagnostic.error(f"YAML syntax error: {printable(problem)}", file=file,
                            line=mark.line + 1 if mark else 1, column=mark.column + 1 if mark else 1)


def _char_at(text: str, mark: Any) -> str:
    index = getattr(mark, "index", None)
    if isinstance(index, int) and 0 <= index < len(text):
        return text[index]
    return ""


def positions(text: str, doc_index: int) -> PositionIndex:
    """Where every key and value of document `doc_index` sits: the events again, no data built."""
    values: dict[tuple, tuple[int, int]] = {}
    keys: dict[tuple, tuple[int, int]] = {}
    # a frame: [path, is_mapping, expecting_key, current key, next item index]
    stack: list[list[Any]] = []
    index = -1
    for ev in _events(text):
        if isinstance(ev, DocumentStartEvent):
            index += 1
            if index > doc_index:
                break
            continue
        if index != doc_index:
            continue
        if isinstance(ev, (MappingEndEvent, SequenceEndEvent)):
            stack.pop()
            continue
        if not isinstance(ev, (ScalarEvent, MappingStartEvent, SequenceStartEvent, AliasEvent)):
            continue
        pos = (ev.start_mark.line + 1, ev.start_mark.column + 1)
        if not stack:
            path: tuple = ()
            values[()] = pos
        else:
            frame = stack[-1]
            if frame[1] and frame[2]:
                key = resolve(ev.value) if isinstance(ev, ScalarEvent) and _is_plain(ev) else \
                    getattr(ev, "value", None)
                frame[3] = key
                frame[2] = False
                if isinstance(ev, ScalarEvent):
                    keys.setdefault(frame[0] + (key,), pos)
                    continue
                path = frame[0] + (object(),)   # a complex key: its insides have no path
            elif frame[1]:
                path = frame[0] + (frame[3],)
                values.setdefault(path, pos)
                frame[2] = True
            else:
                path = frame[0] + (frame[4],)
                frame[4] += 1
                keys.setdefault(path, pos)
                values.setdefault(path, pos)
        if isinstance(ev, MappingStartEvent):
            stack.append([path, True, True, None, 0])
        elif isinstance(ev, SequenceStartEvent):
            stack.append([path, False, False, None, 0])
    if () not in values:
        values[()] = (1, 1)
    return PositionIndex(values, keys)
