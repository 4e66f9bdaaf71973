"""Field ownership: a live object's `metadata.managedFields` -> the part of it one manager owns.

A field set is the parsed `fieldsV1` tree: keys are `f:<field>` (a map field), `k:{json}` (a list
item named by its key fields), `v:<json>` (a member of a set-like list), `i:<n>` (a list index) and
`.` (the node itself); an empty dict is a leaf, owning the whole value there. `project()` keeps the
owned part of an object in the object's own shape, so that the projection of an unchanged object is
the same on every read and equals what was recorded right after apply.

Conflict paths from the API server (`.spec.template.spec.containers[name="web"].image`) are
resolved against such projections with `resolve()`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any
from collections.abc import Iterable, Mapping

from providers.kubernetes.kinds import SECRET_VALUE_FIELDS

FieldSet = dict  # parsed fieldsV1: str -> FieldSet
_MISSING = object()


# --- field sets ----------------------------------------------------------------------------------

def manager_fields(obj: Mapping[str, Any], manager: str, operation: str = "Apply") -> FieldSet:
    """The union of `manager`'s field sets for `operation` on the main resource (no subresource)."""
    out: FieldSet = {}
    for entry in (obj.get("metadata") or {}).get("managedFields") or ():
        if entry.get("manager") != manager or entry.get("operation") != operation:
            continue
        if entry.get("subresource"):
            continue
        merge_into(out, entry.get("fieldsV1") or {})
    return out


def other_managers(obj: Mapping[str, Any], manager: str,
                   operation: str = "Apply") -> list[tuple[str, str, FieldSet]]:
    """(manager, operation, fields) of every entry that is not `manager`'s own `operation` entry."""
    out = []
    for entry in (obj.get("metadata") or {}).get("managedFields") or ():
        if entry.get("manager") == manager and entry.get("operation") == operation \
                and not entry.get("subresource"):
            continue
        out.append((entry.get("manager") or "?", entry.get("operation") or "?",
                    entry.get("fieldsV1") or {}))
    return out


def merge_into(dst: FieldSet, src: Mapping[str, Any]) -> FieldSet:
    """Union of two field sets, in place on `dst`."""
    for key, sub in src.items():
        if key in dst:
            merge_into(dst[key], sub)
        else:
            dst[key] = copy.deepcopy(dict(sub))
    return dst


def union(*sets: Mapping[str, Any]) -> FieldSet:
    out: FieldSet = {}
    for s in sets:
        merge_into(out, s)
    return out


def is_empty(fields: Mapping[str, Any]) -> bool:
    return not fields


def has_path(fields: Mapping[str, Any], *names: str) -> bool:
    """True when the field set holds `f:` names along `names` (e.g. `spec`, `replicas`)."""
    cur: Mapping[str, Any] = fields
    for n in names:
        nxt = cur.get("f:" + n)
        if nxt is None:
            return False
        cur = nxt
    return True


# --- projection ----------------------------------------------------------------------------------

def _parse_key(key: str) -> tuple[str, Any]:
    kind, _, rest = key.partition(":")
    if kind == "f":
        return "f", rest
    if kind in ("k", "v"):
        return kind, json.loads(rest)
    if kind == "i":
        return "i", int(rest)
    return kind, rest


def _item_spec(children: Mapping[str, Any], item: Any, index: int,
               parsed: list[tuple[str, Any, Any]]) -> Mapping[str, Any] | None:
    for kind, val, spec in parsed:
        if kind == "k":
            if isinstance(item, Mapping) and all(item.get(k, _MISSING) == v for k, v in val.items()):
                return spec
        elif kind == "v":
            if item == val:
                return spec
        elif kind == "i":
            if index == val:
                return spec
    return None


def copied(value: Any) -> Any:
    """A deep copy of JSON data (what the API server sends), 3x faster than `copy.deepcopy`,
    which keeps a memo for shared and cyclic objects that decoded JSON never has; anything else
    goes to `copy.deepcopy`. A no-op plan projects every listed object."""
    t = type(value)
    if t is dict:
        return {k: copied(v) for k, v in value.items()}
    if t is list:
        return [copied(v) for v in value]
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    return copy.deepcopy(value)


def project(value: Any, fields: Mapping[str, Any]) -> Any:
    """The part of `value` that `fields` covers, in `value`'s shape and order."""
    children = {k: v for k, v in fields.items() if k != "."}
    if not children:
        if "." in fields and isinstance(value, Mapping):
            return {}
        return copied(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            spec = children.get("f:" + key)
            if spec is not None:
                out[key] = project(sub, spec)
        return out
    if isinstance(value, list):
        parsed = [(*_parse_key(k), v) for k, v in children.items()]
        items = []
        for i, item in enumerate(value):
            spec = _item_spec(children, item, i, parsed)
            if spec is None:
                continue
            sub_children = {k for k in spec if k != "."}
            if not sub_children and "." in spec and isinstance(item, Mapping):
                # only the item's membership is owned: keep the key fields that name it
                key = next((val for kind, val, s in parsed if s is spec and kind == "k"), {})
                items.append({k: item[k] for k in item if k in key})
            else:
                items.append(project(item, spec))
        return items
    return copied(value)


def identity(obj: Mapping[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata") or {}
    meta: dict[str, Any] = {"name": md.get("name")}
    if md.get("namespace"):
        meta["namespace"] = md["namespace"]
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": meta}


def digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def hide_secret_values(view: dict[str, Any]) -> dict[str, Any]:
    """Secret values are replaced by a digest: drift still shows, the value never leaves the cluster."""
    for f in SECRET_VALUE_FIELDS:
        data = view.get(f)
        if isinstance(data, Mapping):
            view[f] = {k: digest(v) for k, v in data.items()}
    return view


def shaped(obj: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """`identity(obj)` followed by the projection of `obj` on `fields`, Secret values hidden."""
    out = identity(obj)
    proj = project(obj, fields) if fields else {}
    if not isinstance(proj, Mapping):
        proj = {}
    meta = dict(out["metadata"])
    for k, v in (proj.get("metadata") or {}).items():
        meta.setdefault(k, v)
    out["metadata"] = meta
    for k, v in proj.items():
        if k not in ("apiVersion", "kind", "metadata"):
            out[k] = v
    if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1":
        hide_secret_values(out)
    return out


def observed(obj: Mapping[str, Any], manager: str) -> dict[str, Any]:
    """What `manager` owns of `obj` through server-side apply: the `observed` view ecpctl records."""
    return shaped(obj, manager_fields(obj, manager))


def drop_path(view: Mapping[str, Any], path: Iterable[str]) -> dict[str, Any]:
    """A copy of `view` without the map field at `path` (e.g. ("spec", "replicas"))."""
    out = copy.deepcopy(dict(view))
    names = list(path)
    cur: Any = out
    for n in names[:-1]:
        cur = cur.get(n) if isinstance(cur, dict) else None
        if cur is None:
            return out
    if isinstance(cur, dict):
        cur.pop(names[-1], None)
    return out


# --- conflict paths ------------------------------------------------------------------------------

def _bracket(text: str, start: int) -> int:
    """Index of the `]` closing the `[` at `start`, skipping JSON strings."""
    i, in_str = start + 1, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "]":
            return i
        i += 1
    raise ValueError(f"unbalanced [ in {text!r}")


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, cur, in_str, i = [], "", False, 0
    while i < len(text):
        c = text[i]
        if in_str:
            cur += c
            if c == "\\" and i + 1 < len(text):
                cur += text[i + 1]
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            cur += c
        elif c == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return parts


def _match_item(items: list, selector: str) -> tuple[bool, Any]:
    selector = selector.strip()
    if selector.isdigit():
        i = int(selector)
        return (True, items[i]) if i < len(items) else (False, None)
    if selector.startswith("="):
        want = json.loads(selector[1:])
        return (True, want) if want in items else (False, None)
    keys = {}
    for part in _split_top(selector):
        k, _, v = part.partition("=")
        keys[k] = json.loads(v)
    for item in items:
        if isinstance(item, Mapping) and all(item.get(k, _MISSING) == v for k, v in keys.items()):
            return True, item
    return False, None


def resolve(data: Any, path: str) -> tuple[bool, Any]:
    """Find the value at an API-server field path in `data`; (found, value).

    Map keys may themselves contain dots (`.metadata.labels.app.kubernetes.io/name`), so at a map
    the longest key that fits is tried first, backtracking to shorter ones.
    """
    if not path:
        return True, data
    if path[0] == ".":
        if not isinstance(data, Mapping):
            return False, None
        rest = path[1:]
        candidates = [k for k in data if isinstance(k, str) and rest.startswith(k)
                      and (len(rest) == len(k) or rest[len(k)] in ".[")]
        for k in sorted(candidates, key=len, reverse=True):
            found, value = resolve(data[k], rest[len(k):])
            if found:
                return True, value
        return False, None
    if path[0] == "[":
        if not isinstance(data, list):
            return False, None
        end = _bracket(path, 0)
        found, item = _match_item(data, path[1:end])
        if not found:
            return False, None
        return resolve(item, path[end + 1:])
    return False, None


def display_path(path: str) -> str:
    """`.spec.replicas` -> `spec.replicas` for messages."""
    return path[1:] if path.startswith(".") else path
