"""Diagnostics: problems attached to a place in a file or to a resource address.

They cross the engine boundary as data; only the CLI's views turn them into text, JSON and exit codes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem, attached to a place in a file or to a resource address."""

    severity: Severity
    summary: str
    detail: str = ""
    address: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def one_line(self) -> str:
        """`file:line:col: field: summary` or `address: summary`."""
        where = []
        if self.file:
            loc = self.file
            if self.line is not None:
                loc += f":{self.line}"
                if self.column is not None:
                    loc += f":{self.column}"
            where.append(loc)
        elif self.address:
            where.append(self.address)
        if self.field:
            where.append(self.field)
        text = self.summary if not self.detail else f"{self.summary}: {self.detail}"
        return ": ".join([*where, text])

    @classmethod
    def error(cls, summary: str, **kw: Any) -> Diagnostic:
        return cls(Severity.ERROR, summary, **kw)

    @classmethod
    def warning(cls, summary: str, **kw: Any) -> Diagnostic:
        return cls(Severity.WARNING, summary, **kw)


def has_errors(diags: list[Diagnostic] | tuple[Diagnostic, ...]) -> bool:
    return any(d.severity is Severity.ERROR for d in diags)
