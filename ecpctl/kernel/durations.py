"""Durations in the Prometheus notation (`150ms`, `30s`, `5m`, `2h30m`, `1d`): parsed and normalized.

The project's one duration parser: spec fields (`for:`, `responseTime`), PromQL range selectors,
SLO windows, lock and readiness timeouts all read durations through it.
"""

from __future__ import annotations

import re

_UNITS_MS = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)
# Units in descending order, each at most once: the grammar Prometheus accepts for `for:`.
_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
EXAMPLES = "use e.g. 30s, 5m, 1h"
PATTERN = _DURATION_RE.pattern


class DurationError(ValueError):
    """A duration string that does not follow the `1h30m` notation."""


def parse_duration(text: object) -> int:
    """Milliseconds in a duration string: `"150ms"` -> 150, `"2h30m"` -> 9000000."""
    if not isinstance(text, str) or not text or not (m := _DURATION_RE.match(text)):
        raise DurationError(f"malformed duration '{text}' ({EXAMPLES})")
    return sum(int(g) * mult for g, (_, mult) in zip(m.groups(), _UNITS_MS) if g)


def parse_seconds(text: object) -> float:
    """Seconds in a timeout as users type it: a duration (`90s`, `5m`, `1m30s`, `500ms`) or a bare
    number of seconds (`30`, `2.5`), as Terraform's -lock-timeout and kubectl's --timeout accept."""
    if isinstance(text, bool):
        raise DurationError(f"malformed duration '{text}' ({EXAMPLES})")
    if isinstance(text, (int, float)):
        value = float(text)
    elif isinstance(text, str) and re.fullmatch(r"\d+(?:\.\d+)?", text.strip()):
        value = float(text.strip())
    else:
        value = parse_duration(text.strip() if isinstance(text, str) else text) / 1000
    if value < 0:
        raise DurationError(f"negative duration '{text}'")
    return value


def format_duration(ms: int) -> str:
    """The canonical Prometheus form: 90000 -> `"1m30s"`, 0 -> `"0s"`.

    Years and weeks are used only when they divide the duration exactly, as Prometheus does.
    """
    if ms < 0:
        raise DurationError(f"negative duration {ms}ms")
    if ms == 0:
        return "0s"
    out = []
    for unit, mult in _UNITS_MS:
        if unit in ("y", "w") and ms % mult:
            continue
        if ms >= mult:
            out.append(f"{ms // mult}{unit}")
            ms %= mult
    return "".join(out)


def normalize_duration(text: object) -> str:
    """`"90s"` -> `"1m30s"`, `"5m"` -> `"5m"`; raises DurationError on malformed text."""
    return format_duration(parse_duration(text))


__all__ = ["DurationError", "parse_duration", "parse_seconds", "format_duration",
           "normalize_duration", "PATTERN"]
