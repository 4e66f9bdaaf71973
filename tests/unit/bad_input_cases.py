"""Hostile inputs that cannot live in the repository as files (FIFOs, symlinks, device files,
megabyte files, thousands of files, binary bytes, names with control characters): each is built
in a temporary directory by a function that returns the PATH to give ecpctl, the expected error
lines (`$PATH` stands for that PATH) and extra environment.

Shared by tests/unit/test_bad_input.py and the measurement in tests/bench/bad_input.py.
"""

from __future__ import annotations

import codecs
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

VALID = ("apiVersion: ecp.ai/v1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n"
         "  services:\n    chatbot: 10\n  sla:\n    availability: 99.5\n")
BAD_LINE = "    chatbot: -1\n"     # line 7, column 14 of a tenant built from VALID


def tenant(name: str = "acme", *, bad: bool = False) -> str:
    text = VALID.format(name=name)
    return text.replace("    chatbot: 10\n", BAD_LINE) if bad else text


@dataclass(frozen=True)
class Built:
    path: str
    expected: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Built]


CASES: list[Case] = []


def case(fn: Callable[[Path], Built]) -> Callable[[Path], Built]:
    CASES.append(Case(fn.__name__.replace("_", "-"), fn))
    return fn


def _file(tmp: Path, name: str, data: bytes | str) -> Path:
    p = tmp / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def _dir(tmp: Path) -> Path:
    d = tmp / "specs"
    d.mkdir()
    (d / "ok.yaml").write_text(tenant("ok"))
    return d


NESTING = "nesting deeper than 32 levels is not allowed in a spec file"


@case
def deep_flow_sequences(tmp: Path) -> Built:
    p = _file(tmp, "deep.yaml", "[" * 50_000 + "]" * 50_000 + "\n")
    return Built(str(p), [f"$PATH:1:33: {'[0]' * 32}: {NESTING}"])


@case
def deep_flow_sequences_unclosed(tmp: Path) -> Built:
    p = _file(tmp, "deep.yaml", "[" * 100_000)
    return Built(str(p), [f"$PATH:1:33: {'[0]' * 32}: {NESTING}"])


@case
def deep_flow_mappings(tmp: Path) -> Built:
    p = _file(tmp, "deep.yaml", "{a: " * 30_000 + "1" + "}" * 30_000 + "\n")
    return Built(str(p), [f"$PATH:1:129: {'.'.join(['a'] * 32)}: {NESTING}"])


@case
def deep_block_mappings(tmp: Path) -> Built:
    text = "".join("  " * i + "a:\n" for i in range(200)) + "  " * 200 + "1\n"
    p = _file(tmp, "deep.yaml", text)
    return Built(str(p), [f"$PATH:33:65: {'.'.join(['a'] * 32)}: {NESTING}"])


@case
def deep_block_sequences(tmp: Path) -> Built:
    p = _file(tmp, "deep.yaml", "".join("  " * i + "-\n" for i in range(100)) + "  " * 100 + "x\n")
    return Built(str(p), [f"$PATH:33:65: {'[0]' * 32}: {NESTING}"])


@case
def file_above_size_limit(tmp: Path) -> Built:
    p = _file(tmp, "big.yaml", tenant() + "# padding\n" * 110_000)
    return Built(str(p), ["$PATH: file is larger than the limit of 1 MiB for a spec file "
                          "(split it, or raise ECPCTL_MAX_SPEC_BYTES)"])


@case
def file_above_configured_limit(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", tenant())
    return Built(str(p), ["$PATH: file is larger than the limit of 100 bytes for a spec file "
                          "(split it, or raise ECPCTL_MAX_SPEC_BYTES)"],
                 {"ECPCTL_MAX_SPEC_BYTES": "100"})


@case
def size_limit_not_a_number(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", tenant())
    return Built(str(p), ["ECPCTL_MAX_SPEC_BYTES='1MB': must be a whole number of bytes >= 1"],
                 {"ECPCTL_MAX_SPEC_BYTES": "1MB"})


@case
def big_file_in_a_directory(tmp: Path) -> Built:
    d = _dir(tmp)
    _file(d, "zz-big.yaml", "#" * (2 << 20))
    return Built(str(d), ["$PATH/zz-big.yaml: file is larger than the limit of 1 MiB for a spec "
                          "file (split it, or raise ECPCTL_MAX_SPEC_BYTES)"])


@case
def nul_byte(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", tenant().replace("name: acme", "name: ac\x00me"))
    return Built(str(p), ["$PATH:4:11: control character U+0000 (NUL) is not allowed in a spec "
                          "file (is it a binary file?)"])


@case
def binary_png(tmp: Path) -> Built:
    p = _file(tmp, "logo.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return Built(str(p), ["$PATH:1:1: cannot read file: not valid UTF-8 (byte 0x89)"])


@case
def binary_random(tmp: Path) -> Built:
    data = bytes(random.Random(7).randrange(256) for _ in range(65536))
    p = _file(tmp, "blob.yaml", data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start]
    return Built(str(p), [f"$PATH:{line}:{col}: cannot read file: not valid UTF-8 "
                          f"(byte 0x{byte:02x})"])


@case
def control_characters_only(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", "\x07\x08\x1b[2J")
    return Built(str(p), ["$PATH:1:1: control character U+0007 (BEL) is not allowed in a spec file"])


@case
def c1_control_character(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", tenant().replace("name: acme", "name: acme\u009b31m"))
    return Built(str(p), ["$PATH:4:13: control character U+009B is not allowed in a spec file"])


@case
def utf8_bom_then_error(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", codecs.BOM_UTF8 + tenant(bad=True).encode())
    return Built(str(p), ["$PATH:7:14: spec.services.chatbot: must be a whole number >= 0"])


@case
def utf16_file(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", tenant().encode("utf-16"))
    return Built(str(p), ["$PATH:1:1: file is UTF-16 (it starts with a UTF-16 byte order mark); "
                          "spec files must be UTF-8"])


@case
def fifo_in_directory(tmp: Path) -> Built:
    d = _dir(tmp)
    os.mkfifo(d / "pipe.yaml")
    return Built(str(d), ["$PATH/pipe.yaml: not a regular file (a named pipe)"])


@case
def fifo_as_path(tmp: Path) -> Built:
    p = tmp / "pipe.yaml"
    os.mkfifo(p)
    return Built(str(p), ["$PATH: not a regular file or directory (a named pipe)"])


@case
def symlink_to_dev_zero(tmp: Path) -> Built:
    d = _dir(tmp)
    (d / "zero.yaml").symlink_to("/dev/zero")
    return Built(str(d), ["$PATH/zero.yaml: symlink to a file outside $PATH: refused"])


@case
def dev_zero_as_path(tmp: Path) -> Built:
    return Built("/dev/zero", ["$PATH: not a regular file or directory (a character device)"])


@case
def proc_file_that_fails_to_read(tmp: Path) -> Built:
    # a regular file whose read fails (EIO: address 0 is never mapped), even for root
    return Built("/proc/self/mem", ["$PATH: cannot read file: Input/output error"])


@case
def symlink_outside_directory(tmp: Path) -> Built:
    d = _dir(tmp)
    secret = _file(tmp, "secret.yaml", tenant("secret"))
    (d / "link.yaml").symlink_to(secret)
    return Built(str(d), ["$PATH/link.yaml: symlink to a file outside $PATH: refused"])


@case
def symlink_to_directory_outside(tmp: Path) -> Built:
    d = _dir(tmp)
    (d / "etc").symlink_to("/etc")
    return Built(str(d), ["$PATH/etc: symlink to a directory outside $PATH: refused"])


@case
def symlink_loop(tmp: Path) -> Built:
    d = _dir(tmp)
    (d / "loop.yaml").symlink_to(d / "loop.yaml")
    return Built(str(d), ["$PATH/loop.yaml: cannot read file: Too many levels of symbolic links"])


@case
def dangling_symlink(tmp: Path) -> Built:
    d = _dir(tmp)
    (d / "gone.yaml").symlink_to(d / "missing.txt")
    return Built(str(d), ["$PATH/gone.yaml: cannot read file: No such file or directory"])


@case
def file_name_with_escape(tmp: Path) -> Built:
    d = _dir(tmp)
    _file(d, "evil\x1b[2J.yaml", tenant("evil"))
    return Built(str(d), ["$PATH/evil\\x1b[2J.yaml: file name contains control character "
                          "U+001B (ESC): rename the file"])


@case
def file_name_with_newline(tmp: Path) -> Built:
    d = _dir(tmp)
    _file(d, "a\nError: fake.yaml", tenant("evil"))
    return Built(str(d), ["$PATH/a\\x0aError: fake.yaml: file name contains control character "
                          "U+000A (LF): rename the file"])


@case
def thousands_of_files_one_bad(tmp: Path) -> Built:
    d = tmp / "many"
    d.mkdir()
    for i in range(3000):
        (d / f"t{i:04d}.yaml").write_text(tenant(f"t{i:04d}", bad=(i == 2999)))
    return Built(str(d), ["$PATH/t2999.yaml:7:14: spec.services.chatbot: must be a whole number >= 0"])


@case
def thousands_of_binary_files(tmp: Path) -> Built:
    d = tmp / "many"
    d.mkdir()
    for i in range(2000):
        (d / f"b{i:04d}.yaml").write_bytes(b"\x00" * 64)
    return Built(str(d), [f"$PATH/b{i:04d}.yaml:1:1: control character U+0000 (NUL) is not "
                          "allowed in a spec file (is it a binary file?)" for i in range(2000)])


@case
def many_documents_many_problems(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", "".join(f"---\na: &x{i} 1\nb: !t{i} 2\nc: 1\nc: 2\n"
                                     for i in range(5000)))
    lines = ["$PATH:2:4: a: YAML anchor '&x0' refused: spec files allow no anchors, aliases or "
             "merge keys; write the value out",
             "$PATH:3:4: b: YAML tag '!t0' refused: spec files allow no tags; write a plain value "
             "(quote it for a string)"]
    lines += [f"$PATH:{5 + 5 * i}:1: c: duplicate key 'c' (first defined at line {4 + 5 * i})"
              for i in range(18)]
    lines.append("$PATH:90:1: too many problems; stopped reading after 20")
    return Built(str(p), lines)


@case
def number_beyond_python_int_limit(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", tenant().replace("chatbot: 10", "chatbot: " + "7" * 100_000))
    return Built(str(p), ["$PATH:7:14: spec.services.chatbot: number with more than 100 digits"])


@case
def long_value_echoed_once(tmp: Path) -> Built:
    p = _file(tmp, "t.yaml", tenant().replace("kind: Tenant", "kind: " + "X" * 500_000))
    shown = f"unknown kind '{'X' * 500_000}'"
    return Built(str(p), [f"$PATH:2:7: kind: {shown[:299]}…"])
