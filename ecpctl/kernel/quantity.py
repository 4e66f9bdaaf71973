"""Kubernetes resource quantities: CPU in millicores and memory in MiB, parsed and formatted.

Formatting is canonical (the form the API server returns), so desired and live values compare as text.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_NUMBER = r"[+]?(?:\d+(?:\.\d*)?|\.\d+)"
_CPU_RE = re.compile(rf"^({_NUMBER})(m?)$")
_MEM_RE = re.compile(rf"^({_NUMBER})(?:e(\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$")

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
MIB = 2**20


def _number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regexes only admit valid numbers
        raise ValueError(f"malformed number {text!r}") from None


def parse_cpu(value: str | int | float) -> int:
    """`"200m"` -> 200, `"2"` -> 2000, `"0.5"` -> 500, `2` -> 2000; fractions of a millicore round up."""
    if isinstance(value, bool):
        raise ValueError(f"malformed CPU quantity {value!r}")
    if isinstance(value, (int, float)):
        value = repr(value) if isinstance(value, float) else str(value)
    m = _CPU_RE.match(value.strip())
    if not m:
        raise ValueError(f"malformed CPU quantity {value!r} (use e.g. 200m or 2)")
    amount = _number(m.group(1))
    millis = amount if m.group(2) == "m" else amount * 1000
    return int(math.ceil(millis))


def parse_memory_bytes(value: str | int) -> int:
    """`"4Gi"` -> 4294967296, `"1G"` -> 10**9, `"1.5Mi"`, `"128974848"`, `"129e6"`; rounds up to a byte."""
    if isinstance(value, bool):
        raise ValueError(f"malformed memory quantity {value!r}")
    if isinstance(value, int):
        value = str(value)
    m = _MEM_RE.match(value.strip())
    if not m:
        raise ValueError(f"malformed memory quantity {value!r} (use e.g. 512Mi or 4Gi)")
    amount = _number(m.group(1))
    if m.group(2):
        amount *= Decimal(10) ** int(m.group(2))
    suffix = m.group(3)
    if suffix:
        amount *= _BINARY.get(suffix) or _DECIMAL[suffix]
    return int(math.ceil(amount))


def parse_memory(value: str | int) -> int:
    """Memory quantity in MiB, rounded up: `"4Gi"` -> 4096, `"512Mi"` -> 512, `"1G"` -> 954."""
    return -(-parse_memory_bytes(value) // MIB)


def format_cpu(millicores: int) -> str:
    """200 -> `"200m"`, 2000 -> `"2"`, 45000 -> `"45"`, 2500 -> `"2500m"`."""
    if millicores < 0:
        raise ValueError(f"negative CPU quantity {millicores}")
    if millicores % 1000 == 0:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_memory(mib: int) -> str:
    """512 -> `"512Mi"`, 4096 -> `"4Gi"`, 1536 -> `"1536Mi"`, 1048576 -> `"1Ti"`."""
    if mib < 0:
        raise ValueError(f"negative memory quantity {mib}")
    if mib == 0:
        return "0"
    if mib % (1024 * 1024) == 0:
        return f"{mib // (1024 * 1024)}Ti"
    if mib % 1024 == 0:
        return f"{mib // 1024}Gi"
    return f"{mib}Mi"


__all__ = ["parse_cpu", "parse_memory", "parse_memory_bytes", "format_cpu", "format_memory"]
