"""Field types of the spec models, each with a short human error message and its JSON Schema.

Validators raise `PydanticCustomError("ecp", ...)` so the loader can show their text verbatim.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from collections.abc import Callable
from urllib.parse import urlsplit

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from ecpctl.config.limits import MAX_DURATION_MS, MAX_PRICE
from ecpctl.kernel import durations

ECP_ERROR = "ecp"
NAMESPACE_MAX = 63
DEFAULT_NAMESPACE_PREFIX = "ecp-ai-"
TENANT_NAME_MAX = NAMESPACE_MAX - len(DEFAULT_NAMESPACE_PREFIX)  # 56


def fail(message: str) -> PydanticCustomError:
    """An error whose message the loader prints as it is."""
    return PydanticCustomError(ECP_ERROR, message)


def _require_str(value: Any) -> str:
    if not isinstance(value, str):
        raise fail("must be a string")
    return value


# ---------------------------------------------------------------- numbers

def _is_plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole_number(ge: int | None = None, le: int | None = None, note: str = "",
                 cap: int | None = None, cap_reason: str = "") -> Any:
    """An int type that refuses bools, floats and strings (YAML `10.0`, `"10"`, `true`).

    `cap` is an upper bound set by a target system rather than by sense: a value above it is
    refused with its own message that names the limit (`cap_reason` says whose it is)."""
    if ge is not None and le is not None:
        message = f"must be a whole number between {ge} and {le}"
    elif ge is not None:
        message = f"must be a whole number >= {ge}"
    else:
        message = "must be a whole number"
    message += note

    def check(value: Any) -> int:
        if not _is_plain_int(value):
            raise fail(message)
        if (ge is not None and value < ge) or (le is not None and value > le):
            raise fail(message)
        if cap is not None and value > cap:
            raise fail(f"must be at most {cap}{cap_reason}")
        return value

    schema: dict[str, Any] = {"type": "integer"}
    if ge is not None:
        schema["minimum"] = ge
    if le is not None or cap is not None:
        schema["maximum"] = le if le is not None else cap
    return Annotated[int, BeforeValidator(check), WithJsonSchema(schema)]


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            return None
        return d if d.is_finite() else None
    return None


def amount(minimum: Decimal = Decimal(0), exclusive: bool = False,
           maximum: Decimal = MAX_PRICE, max_reason: str = "") -> Any:
    """A Decimal read from a YAML number or numeric string; floats go through their text form.

    Bounded above so that sizing's cost arithmetic stays exact (no decimal overflow)."""
    message = f"must be a number {'>' if exclusive else '>='} {minimum}"

    def check(value: Any) -> Decimal:
        d = _to_decimal(value)
        if d is None or d < minimum or (exclusive and d == minimum):
            raise fail(message)
        if d > maximum:
            raise fail(f"must be at most {maximum}{max_reason}")
        return d

    bound = "exclusiveMinimum" if exclusive else "minimum"
    schema = {"anyOf": [{"type": "number", bound: float(minimum), "maximum": float(maximum)},
                        {"type": "string", "pattern": r"^\d+(\.\d+)?$"}]}
    return Annotated[Decimal, BeforeValidator(check), WithJsonSchema(schema)]


def _percent(value: Any) -> Decimal:
    text = value
    if isinstance(value, str):
        text = value.strip()
        text = text[:-1].strip() if text.endswith("%") else text
    d = _to_decimal(text)
    if d is None or not Decimal(0) < d < Decimal(100):
        raise fail("must be a percentage between 0 and 100 (exclusive)")
    return d


Percentage = Annotated[
    Decimal, BeforeValidator(_percent),
    WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
                              {"type": "string", "pattern": r"^\d{1,2}(\.\d+)?\s*%?$"}],
                    "examples": ["99.95%"]})]


# ---------------------------------------------------------------- durations

_DURATION_CAP = (f"must be at most {durations.format_duration(MAX_DURATION_MS)} "
                 "(the longest duration Prometheus and Alertmanager hold)")


def _short_duration(value: Any) -> None:
    # the digits of a duration become one int: refuse text Python would choke on
    if isinstance(value, str) and len(value) > 64:
        raise fail(f"malformed duration ({len(value)} characters; {durations.EXAMPLES})")


def _duration_ms(value: Any) -> int:
    _short_duration(value)
    if _is_plain_int(value) and value >= 0:
        ms = value   # already normalized (a model rebuilt from Python data)
    else:
        try:
            ms = durations.parse_duration(value)
        except durations.DurationError as exc:
            raise fail(str(exc)) from None
    if ms > MAX_DURATION_MS:
        raise fail(_DURATION_CAP)
    return ms


def _prom_duration(value: Any) -> str:
    _short_duration(value)
    try:
        ms = durations.parse_duration(value)
    except durations.DurationError as exc:
        raise fail(str(exc)) from None
    if ms > MAX_DURATION_MS:
        raise fail(_DURATION_CAP)
    return durations.format_duration(ms)


_DURATION_SCHEMA = {"type": "string", "pattern": durations.PATTERN.replace(r"\d", "[0-9]"),
                    "examples": ["150ms", "30s", "5m", "1h", "2h30m"]}

DurationMs = Annotated[
    int, BeforeValidator(_duration_ms),
    PlainSerializer(lambda ms: durations.format_duration(ms), return_type=str),
    WithJsonSchema(_DURATION_SCHEMA)]
"""A duration held as whole milliseconds; written back in the `1m30s` notation."""

PromDuration = Annotated[str, BeforeValidator(_prom_duration), WithJsonSchema(_DURATION_SCHEMA)]
"""A duration held as its normalized Prometheus text (`90s` becomes `1m30s`)."""


# ---------------------------------------------------------------- patterned strings

def patterned(regex: str, message: str, *, max_length: int | None = None,
              extra: Callable[[str], str | None] | None = None, description: str | None = None,
              length_note: str = "") -> Any:
    """A str type checked against `regex` (full match); `extra` returns a further error or None."""
    compiled = re.compile(regex)

    def check(value: Any) -> str:
        text = _require_str(value)
        if max_length is not None and len(text) > max_length:
            raise fail(f"must be at most {max_length} characters{length_note}")
        if not compiled.fullmatch(text):
            raise fail(message)
        if extra is not None and (problem := extra(text)):
            raise fail(problem)
        return text

    schema: dict[str, Any] = {"type": "string", "pattern": f"^{regex}$"}
    if max_length is not None:
        schema["maxLength"] = max_length
    if description:
        schema["description"] = description
    return Annotated[str, BeforeValidator(check), WithJsonSchema(schema)]


def _non_empty(value: Any) -> str:
    text = _require_str(value)
    if not text.strip():
        raise fail("must not be empty")
    return text


NonEmptyStr = Annotated[str, BeforeValidator(_non_empty),
                        WithJsonSchema({"type": "string", "minLength": 1})]

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL_MESSAGE = ("must be a DNS label: lowercase letters, digits and '-', "
                     "starting and ending with a letter or digit")

TenantName = patterned(
    _DNS_LABEL, DNS_LABEL_MESSAGE, max_length=TENANT_NAME_MAX,
    length_note=f" (the namespace '{DEFAULT_NAMESPACE_PREFIX}<name>' must fit in {NAMESPACE_MAX})",
    description="Tenant id: a DNS label of at most 56 characters (namespace 'ecp-ai-<name>' <= 63).")
DnsLabel = patterned(_DNS_LABEL, DNS_LABEL_MESSAGE, max_length=63)
DnsName = patterned(
    rf"(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*",
    "must be a DNS name: lowercase labels of letters, digits and '-' separated by dots",
    max_length=253)
ObjectName = patterned(
    rf"{_DNS_LABEL}(\.{_DNS_LABEL})*",
    "must be a Kubernetes object name: lowercase letters, digits, '-' and '.'", max_length=253)
SlugName = patterned(r"[a-z0-9][a-z0-9-]*",
                     "must be lowercase letters, digits and '-', starting with a letter or digit",
                     max_length=63)
AlertName = patterned(r"[A-Za-z_][A-Za-z0-9_]*",
                      "must be a Prometheus alert name: letters, digits and '_', not starting with a digit",
                      max_length=200)
EnvVarName = patterned(r"[A-Za-z_][A-Za-z0-9_]*",
                       "must be an environment variable name: letters, digits and '_'", max_length=255)
SqlName = patterned(r"[a-z_][a-z0-9_-]*",
                    "must be lowercase letters, digits, '_' and '-', not starting with a digit",
                    max_length=63)
ExtensionName = patterned(r"[a-z0-9_][a-z0-9_-]*",
                          "must be a Postgres extension name: lowercase letters, digits, '_' and '-'",
                          max_length=63)
Email = patterned(r"[^@\s]+@[^@\s]+\.[^@\s]+", "must be an email address like ops@example.com",
                  max_length=254)
ImageTag = patterned(r"[A-Za-z0-9_][A-Za-z0-9_.-]*",
                     "must be an image tag: letters, digits, '_', '.' and '-'", max_length=128)
ImageRegistry = patterned(r"[A-Za-z0-9][A-Za-z0-9._:/-]*",
                          "must be an image registry or repository prefix like ecp-ai or "
                          "registry.example.com/ecp-ai",
                          max_length=255)
PgToken = patterned(r"[A-Za-z0-9_.-]+", "must be letters, digits, '_', '.' and '-'", max_length=63)

_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_KEY = rf"({_DNS_LABEL}(\.{_DNS_LABEL})*/)?{_LABEL_NAME}"
_RESERVED_LABEL_DOMAINS = ("ecp.ai", "kubernetes.io", "k8s.io")


def _label_key_length(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if len(name) > 63:
        return "label name (after any '/') must be at most 63 characters"
    if len(prefix) > 253:
        return "label prefix must be at most 253 characters"
    return None


def _tenant_label_key(key: str) -> str | None:
    if problem := _label_key_length(key):
        return problem
    prefix = key.rpartition("/")[0]
    for domain in _RESERVED_LABEL_DOMAINS:
        if prefix == domain or prefix.endswith("." + domain):
            return f"label prefix '{prefix}/' is reserved (ecpctl and Kubernetes set these labels)"
    return None


_LABEL_KEY_MESSAGE = "must be a Kubernetes label key like team or example.com/team"
LabelKey = patterned(_LABEL_KEY, _LABEL_KEY_MESSAGE, max_length=317, extra=_label_key_length)
TenantLabelKey = patterned(_LABEL_KEY, _LABEL_KEY_MESSAGE, max_length=317, extra=_tenant_label_key)
LabelValue = patterned(f"({_LABEL_NAME})?",
                       "must be a Kubernetes label value: letters, digits, '-', '_' and '.'",
                       max_length=63)


# ---------------------------------------------------------------- URLs

def url_without_password(value: Any, *, http_only: bool) -> str:
    text = _require_str(value)
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise fail(f"malformed URL '{text}'") from None
    if http_only and (parts.scheme not in ("http", "https") or not host):
        raise fail(f"must be an http(s) URL like https://hooks.example.com/alerts, not '{text}'")
    if not http_only and not parts.scheme:
        raise fail(f"must be a URL with a scheme, not '{text}'")
    if parts.password is not None:
        # never echo the URL: it holds a secret
        raise fail("must not contain a password; pass secrets through environment variables")
    return text


HttpUrl = Annotated[str, BeforeValidator(lambda v: url_without_password(v, http_only=True)),
                    WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https?://"})]
SecretFreeUrl = Annotated[str, BeforeValidator(lambda v: url_without_password(v, http_only=False)),
                          WithJsonSchema({"type": "string", "format": "uri"})]


def _strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail("must be true or false")
    return value


StrictBool = Annotated[bool, BeforeValidator(_strict_bool), WithJsonSchema({"type": "boolean"})]


def unique_items(items: list, what: str) -> list:
    """Raises on the first repeated item of a list (compared as given)."""
    seen: set = set()
    for item in items:
        if item in seen:
            raise fail(f"duplicate {what} '{item}'")
        seen.add(item)
    return items
