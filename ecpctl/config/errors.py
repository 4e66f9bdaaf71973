"""Pydantic's validation errors rewritten as short human messages, each with the field path it is about.

No "Input should be ..." boilerplate and no documentation URLs reach the user.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from pydantic import BaseModel, ValidationError

from ecpctl.config.models import CROSS_REFERENCE_ERROR, did_you_mean
from ecpctl.config.types import ECP_ERROR


class Anchor(enum.Enum):
    """Which part of the YAML a problem points at."""

    VALUE = "value"     # the offending value
    KEY = "key"         # the key itself (a bad map key)
    EXTRA = "extra"     # an unknown key: shown under its parent's field path
    HOLDER = "holder"   # the mapping that lacks a required field


@dataclass(frozen=True)
class Problem:
    path: tuple[Any, ...]
    message: str
    anchor: Anchor = Anchor.VALUE


_SIMPLE = {
    "missing": "missing required field",
    "string_type": "must be a string",
    "string_unicode": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
    "list_type": "must be a list",
    "none_required": "must be empty",
}


def problems_from(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Every error of `exc` as a Problem; cross-reference errors expand into one per reference."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        etype = err["type"]
        ctx = err.get("ctx") or {}
        if etype == CROSS_REFERENCE_ERROR:
            for rel, message in ctx.get("problems", ()):
                out.append(Problem(loc + tuple(rel), message))
            continue
        if loc and loc[-1] == "[key]":
            out.append(Problem(loc[:-1], _message(err), Anchor.KEY))
        elif etype == "extra_forbidden":
            out.append(Problem(loc, unknown_field(loc[-1], allowed_fields(model, loc[:-1])),
                               Anchor.EXTRA))
        elif etype == "missing":
            out.append(Problem(loc, _message(err), Anchor.HOLDER))
        else:
            out.append(Problem(loc, _message(err)))
    return out


# Names the product's web API used for fields that are spelled differently in spec files.
SYNONYMS = {
    "duration": "for", "alert_name": "name", "recipients": "to", "tenant_id": "name",
    "service_requirements": "services", "sla_target": "sla", "response_time": "responseTime",
    "concurrent_users": "concurrentUsers", "gpu_type": "gpuType", "is_demo": "demo",
}


def unknown_field(key: Any, known: list[str]) -> str:
    synonym = SYNONYMS.get(str(key))
    hint = f" (did you mean '{synonym}'?)" if synonym in known else did_you_mean(key, known)
    return f"unknown field '{key}'{hint}"


def _message(err: dict) -> str:
    etype = err["type"]
    ctx = err.get("ctx") or {}
    if etype == ECP_ERROR:
        return err["msg"]
    if etype in _SIMPLE:
        return _SIMPLE[etype]
    if etype == "literal_error":
        expected = ctx.get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        return f"must be one of {expected}{did_you_mean(err.get('input'), choices)}"
    if etype in ("too_short", "string_too_short"):
        return "must not be empty" if ctx.get("min_length") == 1 else \
            f"must have at least {ctx.get('min_length')} items"
    if etype in ("too_long", "string_too_long"):
        return f"must have at most {ctx.get('max_length')} items"
    if etype == "value_error":
        return str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
    msg = err["msg"]
    msg = re.sub(r"^Input should be ", "must be ", msg)
    msg = re.sub(r"^Value error, ", "", msg)
    return msg[:1].lower() + msg[1:]


def allowed_fields(model: type[BaseModel], loc: Iterable[Any]) -> list[str]:
    """Field names (aliases) of the model found at `loc` below `model`, for did-you-mean hints."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the one concrete type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp
