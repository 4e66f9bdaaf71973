"""Diagnostics and the project's error types: what crosses the engine boundary.

Only the CLI turns these into exit codes, colour and one-line messages.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
    def error(cls, summary: str, **kw) -> "Diagnostic":
        return cls(Severity.ERROR, summary, **kw)

    @classmethod
    def warning(cls, summary: str, **kw) -> "Diagnostic":
        return cls(Severity.WARNING, summary, **kw)


def has_errors(diags: "list[Diagnostic] | tuple[Diagnostic, ...]") -> bool:
    return any(d.severity is Severity.ERROR for d in diags)


class EcpctlError(Exception):
    """Base of every error the CLI reports as a one-line message with exit code 1."""

    def __init__(self, message: str, *, diagnostics: "tuple[Diagnostic, ...]" = ()):
        super().__init__(message)
        self.diagnostics = tuple(diagnostics)


class ConfigError(EcpctlError):
    """Spec files that do not load or validate; carries one diagnostic per problem."""


class StateError(EcpctlError):
    """The state store refused an operation (stale plan, bad serial, corrupt data, ...)."""


class LockError(StateError):
    """A workspace lock is held by someone else."""


class GraphError(EcpctlError):
    """The resource graph is not a DAG, or references an unknown resource."""


class ProviderError(EcpctlError):
    """Raised at a provider's edge, translated from its client library's error.

    `retryable` separates transient failures (connection lost, 429, 5xx) from permanent ones.
    """

    def __init__(self, message: str, *, address: str | None = None, retryable: bool = False,
                 retry_after: float | None = None):
        super().__init__(f"{address}: {message}" if address else message)
        self.address = address
        self.reason = message
        self.retryable = retryable
        self.retry_after = retry_after


class ProviderNotConfigured(ProviderError):
    """A command needs a live system whose provider has no settings or cannot be reached."""
