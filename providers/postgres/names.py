"""Identifier validation: what Postgres would silently mangle (truncation past 63 bytes) or refuse
(NUL bytes, reserved `pg_` prefixes) is rejected before any SQL is built.

Everything else — quotes, `;`, `--`, Unicode, reserved words — is a legal identifier once quoted, and
every statement quotes names through `psycopg.sql.Identifier`, so such names are applied verbatim.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator, Mapping

MAX_IDENTIFIER_BYTES = 63          # NAMEDATALEN - 1: Postgres truncates longer names without error

# identifier fields of each resource type, and whether the name may start with the reserved `pg_`
IDENTIFIER_FIELDS: dict[str, tuple[str, ...]] = {
    "role": ("name",),
    "database": ("name", "owner"),
    "schema": ("database", "name", "owner"),
    "grant": ("database", "role", "schema", "for_role"),
    "extension": ("database", "name", "schema"),
}
# names that ecpctl would create: Postgres refuses roles and schemas named pg_* itself, with a less
# helpful message
_CREATED = {("role", "name"): "role", ("schema", "name"): "schema"}


class InvalidIdentifier(ValueError):
    """One identifier that cannot be used; the message is one line and names the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def shown(name: str, limit: int = 40) -> str:
    """A name for an error message: repr-escaped (control characters visible), shortened."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def check_identifier(value: Any, field: str, *, what: str = "identifier") -> str:
    """Returns `value` when Postgres stores it exactly as given; raises InvalidIdentifier if not."""
    if not isinstance(value, str):
        raise InvalidIdentifier(field, f"{what} must be a string, not {type(value).__name__}")
    if value == "":
        raise InvalidIdentifier(field, f"{what} must not be empty")
    if "\x00" in value:
        raise InvalidIdentifier(field, f"{what} {shown(value)} contains a NUL byte, which Postgres "
                                       "cannot store")
    size = len(value.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise InvalidIdentifier(field, f"{what} {shown(value)} is {size} bytes long in UTF-8; "
                                       f"Postgres allows at most {MAX_IDENTIFIER_BYTES} and would "
                                       "silently truncate it")
    return value


def identifier_problems(rtype: str, attributes: Mapping[str, Any]) -> Iterator[InvalidIdentifier]:
    """Every unusable identifier among a resource's attributes (absent optional ones are fine)."""
    for field in IDENTIFIER_FIELDS.get(rtype, ()):
        value = attributes.get(field)
        optional = rtype == "grant" and field in ("schema", "for_role")
        if value is None and optional:
            continue
        try:
            check_identifier(value, field)
        except InvalidIdentifier as exc:
            yield exc
            continue
        kind = _CREATED.get((rtype, field))
        if kind and value.startswith("pg_"):
            yield InvalidIdentifier(field, f"{kind} name {shown(value)} starts with the reserved "
                                           "prefix pg_")
