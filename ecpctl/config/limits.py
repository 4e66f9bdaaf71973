"""Limits on spec files and on the numbers in them: what ecpctl reads at all, and what the target
systems can hold. docs/spec-reference.md ("Limits and what is refused") lists them for users.
"""

from __future__ import annotations

import os
from decimal import Decimal

from ecpctl.kernel import ConfigError

MAX_SPEC_BYTES_ENV = "ECPCTL_MAX_SPEC_BYTES"
DEFAULT_MAX_SPEC_BYTES = 1024 * 1024     # per file; ample for hundreds of tenants in one file
MAX_DEPTH = 32                           # the deepest spec field is 7 levels down
MAX_NUMBER_DIGITS = 100                  # Python refuses ints above 4300 digits with a traceback
MAX_PROBLEMS_PER_FILE = 20               # reading stops after this many YAML-level problems
MAX_MESSAGE_CHARS = 300                  # an echoed value is cut so one error stays one line

INT32_MAX = 2**31 - 1                    # Kubernetes replicas and HPA bounds; Postgres int4
INT64_MAX = 2**63 - 1                    # Kubernetes quantities (milli-CPU, bytes)
MAX_SESSIONS = INT64_MAX                 # sessions themselves; replicas are checked in sizing
MAX_PRICE = Decimal(1_000_000)           # per unit-hour, in the project's currency
MAX_HOURS_PER_MONTH = Decimal(744)       # 31 days
MAX_DURATION_MS = INT64_MAX // 1_000_000  # Go's time.Duration (Prometheus, Alertmanager): ~292y


def max_spec_bytes() -> int:
    """ECPCTL_MAX_SPEC_BYTES, else 1 MiB. The Project cannot raise it: it is read from the same
    untrusted directory the limit protects."""
    raw = os.environ.get(MAX_SPEC_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_SPEC_BYTES
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{MAX_SPEC_BYTES_ENV}={raw[:40]!r}: must be a whole number of "
                          "bytes >= 1")
    return int(raw)


def format_bytes(n: int) -> str:
    """1048576 -> `1 MiB`, 1536 -> `1.5 KiB`, 10 -> `10 bytes`."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = f"{n / size:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    return f"{n} bytes"


def shorten(text: str) -> str:
    """One diagnostic stays one readable line even when it echoes a megabyte-long value."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[:MAX_MESSAGE_CHARS - 1] + "…"
