"""Text from untrusted places made safe for a terminal: control characters shown as escapes.

Spec files may not contain control characters at all (the config reader refuses them), but file
names, and values read back from live systems, can: a view prints them through `printable`, so an
ESC or a bidirectional override never reaches the terminal as itself.
"""

from __future__ import annotations

import re
import unicodedata

# C0 except tab and newline, DEL, C1, and the bidirectional embeddings, overrides and isolates
# ("Trojan Source"): characters that move the cursor, recolour, or reorder what is shown.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0A: "LF", 0x0B: "VT",
          0x0C: "FF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL", 0x85: "NEL"}


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = True) -> str:
    """`text` with every unsafe character written as `\\x1b` / `\\u202e`; with `one_line`, tabs and
    newlines too, so that the result is a single line."""
    pattern = _UNSAFE_LINE if one_line else UNSAFE
    return pattern.sub(_escape, text)


def describe_char(ch: str) -> str:
    """`U+001B (ESC)`, `U+202E (RIGHT-TO-LEFT OVERRIDE)`: a character named for a message."""
    code = ord(ch)
    name = _NAMES.get(code) or unicodedata.name(ch, "")
    return f"U+{code:04X}" + (f" ({name})" if name else "")


__all__ = ["printable", "describe_char", "UNSAFE"]
