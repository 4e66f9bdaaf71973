"""Encryption at rest of sensitive values, with a key from the environment.

With ECPCTL_STATE_KEY set (one Fernet key, or several separated by commas: the first encrypts, all
decrypt, which is how a key is rotated), every value at one of a resource's `sensitive` paths is
stored as {"$ecpctl_sealed": "<token>"} instead of in clear. Rows, history versions and pulled
documents hold only the sealed form, so a copied database or a pulled file leaks no password; a
snapshot hands the engine the clear values again. Without the key, values are stored as they are.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ecpctl.diagnostics import StateError
from providers.protocol import ResourceState

KEY_ENV = "ECPCTL_STATE_KEY"
MARKER = "$ecpctl_sealed"
MARKER_TEXT = json.dumps(MARKER)          # how a sealed value shows in a row's JSON text
_MAKE_KEY = ("python -c 'from cryptography.fernet import Fernet; "
             "print(Fernet.generate_key().decode())'")


class Sealer:
    """Seals sensitive values of resources before they are stored, and opens them when read."""

    def __init__(self, keys: Iterable[str] = ()):
        keys = [k.strip() for k in keys if k.strip()]
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None
        except (ValueError, TypeError) as exc:
            raise StateError(f"{KEY_ENV} is not a valid key (32 url-safe base64-encoded bytes); make "
                             f"one with {_MAKE_KEY}") from exc

    @classmethod
    def from_env(cls) -> "Sealer":
        return cls(os.environ.get(KEY_ENV, "").split(","))

    @property
    def enabled(self) -> bool:
        return self._fernet is not None

    def seal(self, rs: ResourceState) -> ResourceState:
        """`rs` with its sensitive values sealed (unchanged without a key or sensitive paths)."""
        if self._fernet is None or not rs.sensitive:
            return rs
        paths = frozenset(rs.sensitive)
        return ResourceState(
            address=rs.address, provider=rs.provider, type=rs.type, name=rs.name, tenant=rs.tenant,
            attributes=self._seal_tree(rs.attributes, paths, ""),
            observed=self._seal_tree(rs.observed, paths, ""),
            sensitive=rs.sensitive, depends_on=rs.depends_on,
            private=self._seal_tree(rs.private, paths, ""))

    def open(self, rs: ResourceState) -> ResourceState:
        """`rs` with every sealed value opened; StateError without the right key."""
        return ResourceState(
            address=rs.address, provider=rs.provider, type=rs.type, name=rs.name, tenant=rs.tenant,
            attributes=self._open_tree(rs.attributes, rs.address),
            observed=self._open_tree(rs.observed, rs.address),
            sensitive=rs.sensitive, depends_on=rs.depends_on,
            private=self._open_tree(rs.private, rs.address))

    # Paths are matched as the engine writes them (ecpctl.paths.dotted): `a.b`, `a[0].b`.
    def _seal_tree(self, value: Any, paths: frozenset[str], here: str) -> Any:
        if here and here in paths:
            return value if _is_sealed(value) else {MARKER: self._encrypt(value)}
        if isinstance(value, Mapping) and not _is_sealed(value):
            return {k: self._seal_tree(v, paths, f"{here}.{k}" if here else str(k))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._seal_tree(v, paths, f"{here}[{i}]") for i, v in enumerate(value)]
        return value

    def _open_tree(self, value: Any, address: str) -> Any:
        if _is_sealed(value):
            return self._decrypt(value[MARKER], address)
        if isinstance(value, Mapping):
            return {k: self._open_tree(v, address) for k, v in value.items()}
        if isinstance(value, list):
            return [self._open_tree(v, address) for v in value]
        return value

    def _encrypt(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def _decrypt(self, token: str, address: str) -> Any:
        if self._fernet is None:
            raise StateError(f"state of {address} holds values encrypted at rest; set {KEY_ENV} to "
                             "the key they were written with")
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError, TypeError) as exc:
            raise StateError(f"cannot decrypt the sensitive values of {address}: {KEY_ENV} does not "
                             "hold the key they were written with") from exc


def _is_sealed(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and MARKER in value
