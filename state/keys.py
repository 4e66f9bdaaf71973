"""Keys for encryption at rest: where they are read from, how they are checked, how they are named.

A key is 32 random bytes written in base64 (standard or url-safe, padding optional). It is named to
the user by its source ("ECPCTL_STATE_KEY", "key file keys/state.key") and by its key id, the first
8 hex digits of its SHA-256, which every encrypted value records; the key itself is never printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping

from ecpctl.kernel import StateError

KEY_ENV = "ECPCTL_STATE_KEY"
KEY_FILE_ENV = "ECPCTL_STATE_KEY_FILE"
NEW_KEY_ENV = "ECPCTL_STATE_NEW_KEY"
KEY_BYTES = 32
MAKE_KEY = "openssl rand -base64 32"


@dataclass(frozen=True)
class StateKey:
    """An AES-256 key and where it came from; `repr` never shows the bytes."""

    secret: bytes = field(repr=False)
    source: str          # how messages name it: "ECPCTL_STATE_KEY", "key file keys/state.key"

    @property
    def kid(self) -> str:
        return key_id(self.secret)


def key_id(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()[:8]


def generate_key() -> str:
    """A new key, url-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str, source: str) -> StateKey:
    """The key in `text`; StateError naming `source` (never the text) when it is not one."""
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        secret = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != KEY_BYTES:
        raise StateError(f"{source} is not a valid state key: it must be {KEY_BYTES} random bytes "
                         f"in base64 (make one with `{MAKE_KEY}`)")
    return StateKey(secret=secret, source=source)


def read_key_file(path: Path) -> StateKey:
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError as exc:
        raise StateError(f"key file {path} is not a valid state key: it must hold {KEY_BYTES} random "
                         f"bytes in base64 (make one with `{MAKE_KEY} > {path}`)") from exc
    except OSError as exc:
        raise StateError(f"cannot read the state key file {path}: {exc.strerror or exc}") from exc
    return parse_key(text, f"key file {path}")


def key_from_env(environ: Mapping[str, str] | None = None) -> StateKey | None:
    """ECPCTL_STATE_KEY, else the file named by ECPCTL_STATE_KEY_FILE, else None."""
    env = os.environ if environ is None else environ
    text = env.get(KEY_ENV, "")
    if text.strip():
        return parse_key(text, KEY_ENV)
    name = env.get(KEY_FILE_ENV, "").strip()
    if name:
        return read_key_file(Path(name).expanduser())
    return None


def new_key_from(key_file: Path | None, environ: Mapping[str, str] | None = None) -> StateKey | None:
    """The target key of `state rekey`: --new-key-file, else ECPCTL_STATE_NEW_KEY, else None."""
    if key_file is not None:
        return read_key_file(key_file)
    env = os.environ if environ is None else environ
    text = env.get(NEW_KEY_ENV, "")
    return parse_key(text, NEW_KEY_ENV) if text.strip() else None
