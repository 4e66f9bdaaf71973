"""Finding and reading spec files as untrusted input: regular files only, inside PATH, bounded in
size, decoded as UTF-8 and free of control characters, without ever blocking on a FIFO or device.

Every refusal is a Diagnostic; a problem in the content carries its line and column.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from ecpctl.config.limits import MAX_SPEC_BYTES_ENV, format_bytes, max_spec_bytes
from ecpctl.kernel import Diagnostic
from ecpctl.kernel.text import UNSAFE, describe_char, printable

SUFFIXES = (".yaml", ".yml")

# What YAML 1.2 allows in a stream (tab, line breaks and the printable planes); anything else is
# binary content or a terminal escape, refused before the YAML parser sees it.
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_FOREIGN_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                 (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


@dataclass(frozen=True)
class SpecFile:
    path: Path       # where to read it
    display: str     # how to name it in messages: as the user gave PATH, then the relative part


def find_files(path: str | Path) -> tuple[list[SpecFile], list[Diagnostic]]:
    """PATH itself when it is a file, else every *.yaml / *.yml below it (sorted, no hidden ones).

    Below a directory, a symlink whose target lies outside it, and anything that is not a regular
    file, is refused rather than read."""
    given = str(path)
    shown = printable(given)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return [], [Diagnostic.error("no such file or directory", file=shown)]
    except OSError as exc:
        return [], [Diagnostic.error(f"cannot read: {exc.strerror or exc}", file=shown)]
    if stat.S_ISREG(st.st_mode):
        return [SpecFile(Path(path), given)], []
    if not stat.S_ISDIR(st.st_mode):
        return [], [Diagnostic.error(f"not a regular file or directory ({_kind(st.st_mode)})",
                                     file=shown)]
    root = Path(path)
    real_root = os.path.realpath(root)
    found: list[tuple[str, Path]] = []
    diags: list[Diagnostic] = []

    def unreadable(err: OSError) -> None:
        where = Path(err.filename) if err.filename else root
        diags.append(Diagnostic.error(f"cannot read directory: {err.strerror or err}",
                                      file=printable(_display(given, root, where))))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for d in dirnames:
            p = here / d
            if p.is_symlink() and not _inside(real_root, p):
                diags.append(Diagnostic.error(f"symlink to a directory outside {shown}: refused",
                                              file=printable(_display(given, root, p))))
        for name in filenames:
            p = here / name
            if name.startswith(".") or p.suffix not in SUFFIXES:
                continue
            shown_file = printable(_display(given, root, p))
            if problem := _file_problem(real_root, p, shown):
                diags.append(Diagnostic.error(problem, file=shown_file))
                continue
            found.append((p.relative_to(root).as_posix(), p))
    if not found and not diags:
        return [], [Diagnostic.error("no spec files (*.yaml, *.yml) found", file=shown)]
    files = [SpecFile(p, (Path(given) / rel).as_posix()) for rel, p in sorted(found)]
    return files, diags


def _display(given: str, root: Path, p: Path) -> str:
    return (Path(given) / p.relative_to(root)).as_posix()


def _inside(real_root: str, p: Path) -> bool:
    target = os.path.realpath(p)
    return target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)


def _file_problem(real_root: str, p: Path, shown_root: str) -> str | None:
    """Why a file found below PATH is not read, or None."""
    if UNSAFE.search(p.name) or "\n" in p.name or "\t" in p.name:
        bad = next(ch for ch in p.name if UNSAFE.match(ch) or ch in "\n\t")
        return f"file name contains control character {describe_char(bad)}: rename the file"
    if p.is_symlink():
        if not _inside(real_root, p):
            return f"symlink to a file outside {shown_root}: refused"
    try:
        st = os.stat(p)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({_kind(st.st_mode)})"
    return None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def read_text(spec: SpecFile) -> tuple[str | None, list[Diagnostic]]:
    """The file's text, or None and the one diagnostic that says why it cannot be used."""
    shown = printable(spec.display)
    limit = max_spec_bytes()
    try:
        raw = _read_capped(spec.path, limit)
    except _NotRegular as exc:
        return None, [Diagnostic.error(f"not a regular file ({exc})", file=shown)]
    except OSError as exc:
        return None, [Diagnostic.error(f"cannot read file: {exc.strerror or exc}", file=shown)]
    if len(raw) > limit:
        return None, [Diagnostic.error(
            f"file is larger than the limit of {format_bytes(limit)} for a spec file "
            f"(split it, or raise {MAX_SPEC_BYTES_ENV})", file=shown)]
    for bom, name in _FOREIGN_BOMS:
        if raw.startswith(bom):
            return None, [Diagnostic.error(f"file is {name} (it starts with a {name} byte order "
                                           "mark); spec files must be UTF-8",
                                           file=shown, line=1, column=1)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Diagnostic.error(
            f"cannot read file: not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            file=shown, line=line, column=col)]
    if bad := _NOT_YAML.search(text):
        i = bad.start()
        line = text.count("\n", 0, i) + 1
        col = i - text.rfind("\n", 0, i)
        hint = " (is it a binary file?)" if bad.group() == "\x00" else ""
        return None, [Diagnostic.error(
            f"control character {describe_char(bad.group())} is not allowed in a spec file{hint}",
            file=shown, line=line, column=col)]
    return text, []


class _NotRegular(OSError):
    pass


def _read_capped(path: Path, limit: int) -> bytes:
    """At most limit + 1 bytes. Opened without blocking (a FIFO would wait for a writer forever)
    and checked to be a regular file before anything is read (a device never ends)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _NotRegular(_kind(mode))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
