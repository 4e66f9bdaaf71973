"""Encryption at rest of sensitive values: AES-256-GCM envelopes bound to where they are kept.

With a key (state/keys.py), every value at one of a resource's `sensitive` paths is stored as

    {"$enc": "aesgcm/v1", "kid": "1a2b3c4d", "n": "<base64 96-bit nonce>", "c": "<base64 ciphertext+tag>"}

The plaintext is the canonical JSON of the value, with a random nonce per value. The associated
data names the workspace, the resource address and the value's location (`attributes.data`,
`plan.after.password`), so an envelope copied to another resource, path or workspace fails to
decrypt instead of handing back another resource's secret. Rows, history versions, pulled documents
and saved plans hold only envelopes; snapshots give the engine clear values again.

Without a key values are kept as they are. Opening an envelope without the key, or with another
key, is a one-line StateError; nothing is ever guessed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ecpctl.kernel import StateError
from ecpctl.kernel import ResourceState
from state.keys import KEY_ENV, KEY_FILE_ENV, StateKey

ENC = "$enc"
SCHEME = "aesgcm/v1"
ENC_TEXT = '"$enc":'            # how an envelope shows in canonical JSON text (a key, never a value)
_FIELDS = frozenset((ENC, "kid", "n", "c"))
LEGACY = "$ecpctl_sealed"       # Fernet tokens written by ecpctl before AES-GCM; read, never written
LEGACY_TEXT = json.dumps(LEGACY) + ":"
SECTIONS = ("attributes", "observed", "private")


class KeyMissing(StateError):
    """Encrypted values, and no key to open them."""


class WrongKey(StateError):
    """Encrypted values under another key than the one given."""


def is_envelope(value: Any) -> bool:
    return isinstance(value, Mapping) and ENC in value and set(value) <= _FIELDS


def _is_legacy(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and LEGACY in value


def has_envelopes(text: str) -> bool:
    """Cheap test on canonical JSON text: may it hold encrypted values?"""
    return ENC_TEXT in text or LEGACY_TEXT in text


def _aad(workspace: str, address: str, where: str) -> bytes:
    return json.dumps(["ecpctl", SCHEME, workspace, address, where], ensure_ascii=False,
                      separators=(",", ":")).encode()


class Sealer:
    """Encrypts the sensitive values of records and opens them again, with one key (or none)."""

    def __init__(self, key: StateKey | None = None):
        self.key = key
        self._aes = AESGCM(key.secret) if key is not None else None

    @property
    def enabled(self) -> bool:
        return self.key is not None

    # --- resource records ------------------------------------------------------------------

    def seal(self, rs: ResourceState, workspace: str) -> ResourceState:
        """`rs` with its sensitive values encrypted (unchanged without a key or sensitive paths)."""
        if self._aes is None or not rs.sensitive:
            return rs
        paths = frozenset(rs.sensitive)
        return _with_sections(rs, lambda section, tree: self.seal_tree(
            tree, paths, workspace, rs.address, section))

    def open(self, rs: ResourceState, workspace: str, *, what: str = "state") -> ResourceState:
        """`rs` with every encrypted value opened; KeyMissing / WrongKey / StateError otherwise."""
        return _with_sections(rs, lambda section, tree: self.open_tree(
            tree, workspace, rs.address, section, what=what))

    # --- any JSON tree ---------------------------------------------------------------------

    # Paths are matched as the engine writes them (ecpctl.kernel.paths.dotted): `a.b`, `a[0].b`.
    def seal_tree(self, value: Any, paths: Iterable[str], workspace: str, address: str,
                  where: str) -> Any:
        if self._aes is None:
            return value
        paths = frozenset(paths)
        if not paths:
            return value

        def walk(v: Any, here: str) -> Any:
            if here in paths:
                return v if is_envelope(v) else self._encrypt(v, workspace, address, f"{where}.{here}")
            if isinstance(v, Mapping) and not is_envelope(v):
                return {k: walk(x, f"{here}.{k}" if here else str(k)) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x, f"{here}[{i}]") for i, x in enumerate(v)]
            return v

        return walk(value, "")

    def open_tree(self, value: Any, workspace: str, address: str, where: str, *,
                  what: str = "state") -> Any:
        def walk(v: Any, here: str) -> Any:
            if is_envelope(v):
                return self._decrypt(v, workspace, address, f"{where}.{here}", what)
            if _is_legacy(v):
                return self._decrypt_legacy(v[LEGACY], address, what)
            if isinstance(v, Mapping):
                return {k: walk(x, f"{here}.{k}" if here else str(k)) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x, f"{here}[{i}]") for i, x in enumerate(v)]
            return v

        return walk(value, "")

    # --- one value -------------------------------------------------------------------------

    def _encrypt(self, value: Any, workspace: str, address: str, where: str) -> dict[str, str]:
        assert self._aes is not None and self.key is not None
        plain = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        nonce = os.urandom(12)
        sealed = self._aes.encrypt(nonce, plain, _aad(workspace, address, where))
        return {ENC: SCHEME, "kid": self.key.kid, "n": _b64(nonce), "c": _b64(sealed)}

    def _decrypt(self, env: Mapping[str, Any], workspace: str, address: str, where: str,
                 what: str) -> Any:
        kid = str(env.get("kid", "?"))
        self._check_key(kid, what)
        assert self._aes is not None
        if env.get(ENC) != SCHEME:
            raise StateError(f"cannot decrypt {where} of {address}: unknown encryption scheme "
                             f"{env.get(ENC)!r} (written by a newer ecpctl?)")
        try:
            nonce, sealed = _unb64(env["n"]), _unb64(env["c"])
            plain = self._aes.decrypt(nonce, sealed, _aad(workspace, address, where))
            return json.loads(plain)
        except (InvalidTag, KeyError, ValueError, TypeError) as exc:
            raise StateError(
                f"cannot decrypt {where} of {address} in {what}: the encrypted value does not "
                "authenticate (altered, or copied from another resource or workspace); restore an "
                "intact version (`ecpctl state history`, `ecpctl state pull --version N`)") from exc

    def _decrypt_legacy(self, token: Any, address: str, what: str) -> Any:
        from cryptography.fernet import Fernet, InvalidToken
        if self.key is None:
            raise KeyMissing(f"{what} is encrypted (an earlier ecpctl's format) but {KEY_ENV} "
                             "is not set; set it to the key the state was written with")
        try:
            f = Fernet(base64.urlsafe_b64encode(self.key.secret))
            return json.loads(f.decrypt(str(token).encode()))
        except (InvalidToken, ValueError, TypeError) as exc:
            raise WrongKey(f"{self.key.source} does not decrypt {_this(what)} (values of {address} "
                           "in an earlier ecpctl's format); set the key it was written with") from exc

    def _check_key(self, kid: str, what: str) -> None:
        if self.key is None:
            raise KeyMissing(f"{what} is encrypted (key id {kid}) but {KEY_ENV} is not set; set "
                             f"it (or {KEY_FILE_ENV}, or the Project's spec.state.keyFile) to the key "
                             "it was written with")
        if kid != self.key.kid:
            fix = ("run plan again with the state's key" if what.startswith("saved plan")
                   else "set the key it was written with (`ecpctl state rekey` moves a state to a "
                        "new key)")
            raise WrongKey(f"{self.key.source} does not decrypt {_this(what)} (key id {kid}; the key "
                           f"given has id {self.key.kid}); {fix}")


def count_envelopes(value: Any) -> int:
    if is_envelope(value) or _is_legacy(value):
        return 1
    if isinstance(value, Mapping):
        return sum(count_envelopes(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_envelopes(v) for v in value)
    return 0


def key_ids(value: Any) -> set[str]:
    """The key ids of the envelopes in `value`."""
    if is_envelope(value):
        return {str(value.get("kid"))}
    if isinstance(value, Mapping):
        return set().union(*(key_ids(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(key_ids(v) for v in value)) if value else set()
    return set()


def _with_sections(rs: ResourceState, fn: Callable[[str, Any], Any]) -> ResourceState:
    return ResourceState(
        addr=rs.addr, attributes=fn("attributes", rs.attributes), observed=fn("observed", rs.observed),
        sensitive=rs.sensitive, depends_on=rs.depends_on, private=fn("private", rs.private))


def _this(what: str) -> str:
    return "this state" if what == "state" else what


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
