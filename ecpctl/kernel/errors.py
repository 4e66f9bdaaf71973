"""The project's one error hierarchy. Every provider translates its client library's errors into
these at its edge (chaining the cause); the CLI turns them into one line and exit code 1.

A provider error is retryable or permanent by its type, never by a flag a call site chose:

    ProviderError
    ├── NotFound, Conflict, Forbidden, Invalid          permanent
    ├── ProviderNotConfigured                           permanent
    └── Throttled, Unreachable, Timeout, ServerError,   retryable (the retry policy retries them)
        InUse
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ecpctl.kernel import Diagnostic


class EcpctlError(Exception):
    """Base of every error the CLI reports as a one-line message with exit code 1."""

    def __init__(self, message: str, *, diagnostics: tuple[Diagnostic, ...] = ()):
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

    Retryable or permanent is a property of the type (`retryable`): the subclasses below say which
    failures are transient. `retry_after` carries a server's Retry-After (seconds) where it sent
    one. The message nests operation and address around the provider's own words:
    `apply tenant.acme.postgres.role.acme_app: ALTER ROLE: permission denied`; `reason` is the
    provider's words alone.
    """

    retryable: bool = False

    def __init__(self, message: str, *, address: str | None = None,
                 operation: str | None = None, retry_after: float | None = None):
        self.reason = message
        self.address = address
        self.operation = operation
        self.retry_after = retry_after
        super().__init__(self._render())

    def _render(self) -> str:
        where = " ".join(p for p in (self.operation, self.address) if p)
        return f"{where}: {self.reason}" if where else self.reason

    def located(self, address: str, operation: str | None = None) -> ProviderError:
        """The same error (same type, same cause) naming the operation and the address where it
        happened. What the error already names is kept, so nesting never repeats an address.
        Raise the result as it is (`raise exc.located(...)`): it chains the original itself."""
        address_, operation_ = self.address or address, self.operation or operation
        if (address_, operation_) == (self.address, self.operation):
            return self
        new = copy.copy(self)
        new.address, new.operation = address_, operation_
        new.args = (new._render(),)
        new.__cause__ = self           # the chain keeps the provider's error and its cause
        return new


class NotFound(ProviderError):
    """The object (or the API, or the database) does not exist."""


class Conflict(ProviderError):
    """Someone else changed or owns it: a version mismatch, a field owned by another manager."""


class Forbidden(ProviderError):
    """The credentials in use may not do this (401, 403, permission denied)."""


class Invalid(ProviderError):
    """The server refused the request as malformed or semantically invalid (400, 422, SQL syntax)."""


class ProviderNotConfigured(ProviderError):
    """A command needs a live system whose provider has no settings or cannot be reached."""


class InUse(ProviderError):
    """The object is still used by something changing at the same time (a receiver a route being
    removed still names, a database another session holds open): transient, retried."""

    retryable = True


class Throttled(ProviderError):
    """The server asked to slow down (429); retried after its Retry-After."""

    retryable = True


class Unreachable(ProviderError):
    """The system could not be reached at all (connection refused or reset). Retryable, and a sign
    that the next operation on the same provider will fail the same way for now."""

    retryable = True


class Timeout(ProviderError):
    """No answer within the deadline (a stalled server, a lock or an object held by another
    session, a pool with no free connection)."""

    retryable = True


class ServerError(ProviderError):
    """The server failed on its side (5xx, a restarting database, a statement aborted for a
    concurrent one: serialization failure, deadlock): transient."""

    retryable = True


__all__ = ["EcpctlError", "ConfigError", "StateError", "LockError", "GraphError", "ProviderError",
           "NotFound", "Conflict", "Forbidden", "Invalid", "ProviderNotConfigured", "InUse", "Throttled",
           "Unreachable", "Timeout", "ServerError"]
