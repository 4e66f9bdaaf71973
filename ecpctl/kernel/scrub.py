"""Secret scrubbing shared by every output: errors, logs and crash files.

Values are remembered as they become known (generated passwords, tokens read from the Project's
environment variables, DSN passwords) and removed, with their base64 forms, from any text handed
to `scrub`. Patterns catch credentials that were never remembered: `password=...` in a libpq DSN,
`user:secret@` in a URL, `Authorization: Bearer ...` headers.
"""

from __future__ import annotations

import base64
import re
import threading

REDACTED = "<redacted>"
MIN_LENGTH = 4      # shorter values would scrub ordinary words

_lock = threading.Lock()
_forms: set[str] = set()

_PATTERNS = (
    (re.compile(r"(?i)(password\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)"), r"\1" + REDACTED),
    (re.compile(r"(?i)(PGPASSWORD\s*=\s*)\S+"), r"\1" + REDACTED),
    # a SQL literal after PASSWORD (ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'), in statement logs
    (re.compile(r"(?i)(\bPASSWORD\s+)E?'(?:[^']|'')*'"), r"\1'" + REDACTED + "'"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"), r"\1" + REDACTED + r"\2"),
    (re.compile(r"(?i)(authorization\s*[:=]\s*(?:bearer|basic)\s+)\S+"), r"\1" + REDACTED),
)


def _variants(value: str) -> set[str]:
    raw = value.encode()
    out = {value}
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        text = enc(raw).decode()
        out.update((text, text.rstrip("=")))
    return out


def remember(*values: object) -> None:
    """Scrub these values (and their base64 forms) from everything scrubbed from now on."""
    new = set()
    for v in values:
        if isinstance(v, str) and len(v) >= MIN_LENGTH:
            new |= _variants(v)
    if new:
        with _lock:
            _forms.update(new)


def forget_all() -> None:
    """For tests: drop every remembered value."""
    with _lock:
        _forms.clear()


def scrub(text: str) -> str:
    """`text` without any remembered secret nor any credential the patterns recognise."""
    if not text:
        return text
    with _lock:
        forms = sorted(_forms, key=len, reverse=True)
    for f in forms:
        if f in text:
            text = text.replace(f, REDACTED)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text
