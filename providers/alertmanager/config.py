"""The operator's alertmanager.yml as a round-trip document, and ecpctl's part of it.

ecpctl owns, inside the operator's file:
  * receivers named `<tenant>/<receiver>` (exact names come from the resources);
  * one route per tenant among the root route's `routes`, recognized by its matcher
    `tenant_id="<tenant>"`; all of them come first, sorted by tenant, with `continue: false`, so
    a tenant's alerts never reach the operator's routes and no other tenant's receivers.
Alertmanager rejects unknown keys, so nothing else marks them. Everything else in the file, comments
included, is the operator's and is written back as it was read (ruamel.yaml round-trip).
"""

from __future__ import annotations

import io
import json
import re
from typing import Any
from collections.abc import Iterable, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

TENANT_LABEL = "tenant_id"
PLACED_FIRST = "placed_first"      # observed only: the route is in the leading block of tenant routes
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')


class ConfigFileError(ValueError):
    """The file is not an Alertmanager config ecpctl can edit."""


def _yaml() -> YAML:
    y = YAML()               # round-trip: comments, key order and quoting survive
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 4096
    y.preserve_quotes = True
    return y


def load(text: str) -> CommentedMap:
    try:
        doc = _yaml().load(text) if text.strip() else CommentedMap()
    except YAMLError as exc:
        raise ConfigFileError(f"not valid YAML: {exc}") from exc
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, dict):
        raise ConfigFileError("the top level must be a mapping")
    route = doc.get("route")
    if route is not None and not isinstance(route, dict):
        raise ConfigFileError("`route` must be a mapping")
    for key in ("receivers",):
        if doc.get(key) is not None and not isinstance(doc[key], list):
            raise ConfigFileError(f"`{key}` must be a list")
    return doc


def dump(doc: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def plain(value: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (and scalars as plain types)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


# --- matchers ------------------------------------------------------------------------------

def parse_matcher(text: str) -> tuple[str, str, str] | None:
    m = _MATCHER.match(text)
    if not m:
        return None
    name, op, raw = m.groups()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw[1:-1]
    else:
        value = raw
    return name, op, value


def canonical_matcher(text: str) -> str:
    """`tenant_id = acme` and `tenant_id="acme"` are one matcher: write it the second way."""
    parsed = parse_matcher(str(text))
    if parsed is None:
        return str(text)
    name, op, value = parsed
    return f"{name}{op}{json.dumps(value, ensure_ascii=False)}"


def route_matchers(route: Mapping[str, Any]) -> list[str]:
    """All of a route's conditions as canonical matcher strings (also the deprecated match/match_re)."""
    out = [canonical_matcher(m) for m in route.get("matchers") or []]
    out += [canonical_matcher(f"{k}={json.dumps(str(v))}") for k, v in (route.get("match") or {}).items()]
    out += [canonical_matcher(f"{k}=~{json.dumps(str(v))}")
            for k, v in (route.get("match_re") or {}).items()]
    return out


def tenant_matcher(tenant: str) -> str:
    return canonical_matcher(f'{TENANT_LABEL}="{tenant}"')


def normalize_route(route: Mapping[str, Any]) -> dict[str, Any]:
    out = {str(k): plain(v) for k, v in route.items()}
    if "matchers" in out:
        out["matchers"] = [canonical_matcher(m) for m in out["matchers"] or []]
    if "routes" in out:
        out["routes"] = [normalize_route(r) for r in out["routes"] or []]
    return out


def normalize_receiver(receiver: Mapping[str, Any]) -> dict[str, Any]:
    return plain(receiver)


# --- ecpctl's part of the document -----------------------------------------------------------

def _root_routes(doc: CommentedMap, create: bool = False) -> CommentedSeq | None:
    route = doc.get("route")
    if route is None:
        if not create:
            return None
        raise ConfigFileError("the file has no root `route`; Alertmanager needs one")
    routes = route.get("routes")
    if routes is None:
        if not create:
            return None
        route["routes"] = routes = CommentedSeq()
    return routes


def _route_tenant(route: Any) -> str | None:
    """The tenant a root-level route belongs to, if it is a tenant route."""
    if not isinstance(route, Mapping):
        return None
    for m in route_matchers(route):
        parsed = parse_matcher(m)
        if parsed and parsed[0] == TENANT_LABEL and parsed[1] == "=":
            return parsed[2]
    return None


def _leading_tenant_routes(routes: list) -> int:
    n = 0
    for r in routes:
        if _route_tenant(r) is None:
            break
        n += 1
    return n


def find_route(doc: CommentedMap, tenant: str) -> tuple[int, Mapping[str, Any]] | None:
    routes: list[Any] = _root_routes(doc) or []
    for i, r in enumerate(routes):
        if _route_tenant(r) == tenant:
            return i, r
    return None


def observed_route(doc: CommentedMap, tenant: str) -> dict[str, Any] | None:
    hit = find_route(doc, tenant)
    if hit is None:
        return None
    i, r = hit
    out = normalize_route(r)
    out[PLACED_FIRST] = i < _leading_tenant_routes(_root_routes(doc) or [])
    return out


def planned_route(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = normalize_route(attrs)
    out[PLACED_FIRST] = True
    return out


def set_route(doc: CommentedMap, tenant: str, attrs: Mapping[str, Any]) -> None:
    """Put the tenant's route in the leading block of tenant routes, in tenant order."""
    routes = _root_routes(doc, create=True)
    assert routes is not None
    hit = find_route(doc, tenant)
    if hit is not None:
        del routes[hit[0]]
    lead = _leading_tenant_routes(routes)
    at = next((i for i in range(lead) if (_route_tenant(routes[i]) or "") > tenant), lead)
    routes.insert(at, _commented(plain(attrs)))


def remove_route(doc: CommentedMap, tenant: str) -> bool:
    hit = find_route(doc, tenant)
    if hit is None:
        return False
    routes = _root_routes(doc)
    assert routes is not None
    del routes[hit[0]]
    return True


def find_receiver(doc: CommentedMap, name: str) -> Mapping[str, Any] | None:
    for r in doc.get("receivers") or []:
        if isinstance(r, Mapping) and r.get("name") == name:
            return r
    return None


def set_receiver(doc: CommentedMap, attrs: Mapping[str, Any]) -> None:
    receivers = doc.get("receivers")
    if receivers is None:
        doc["receivers"] = receivers = CommentedSeq()
    new = _commented(plain(attrs))
    for i, r in enumerate(receivers):
        if isinstance(r, Mapping) and r.get("name") == attrs["name"]:
            receivers[i] = new
            return
    receivers.append(new)


def remove_receiver(doc: CommentedMap, name: str) -> bool:
    receivers = doc.get("receivers") or []
    for i, r in enumerate(receivers):
        if isinstance(r, Mapping) and r.get("name") == name:
            del receivers[i]
            return True
    return False


def routes_using(doc: CommentedMap, receiver: str) -> list[str]:
    """Where a receiver is still used: `route` or `route.routes[2].routes[0]` ..."""
    out: list[str] = []

    def walk(r: Any, where: str) -> None:
        if not isinstance(r, Mapping):
            return
        if r.get("receiver") == receiver:
            out.append(where)
        for i, child in enumerate(r.get("routes") or []):
            walk(child, f"{where}.routes[{i}]")

    walk(doc.get("route"), "route")
    return out


def _commented(value: Any) -> Any:
    """Plain data as ruamel containers, so it is written in block style like the rest."""
    if isinstance(value, Mapping):
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _commented(v)
        return m
    if isinstance(value, list):
        s = CommentedSeq()
        s.extend(_commented(v) for v in value)
        return s
    return value


# --- what the running Alertmanager reports ----------------------------------------------------

def skeleton(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The routing tree and the receivers' names and integrations: what a reload must have loaded.

    Alertmanager's /api/v2/status re-serializes the config (defaults filled in, secrets masked),
    so the file and the running config are compared on this projection, not as text.
    """
    def shape(r: Any) -> Any:
        if not isinstance(r, Mapping):
            return None
        return {"receiver": r.get("receiver"), "matchers": sorted(route_matchers(r)),
                "continue": bool(r.get("continue", False)),
                "routes": [shape(c) for c in r.get("routes") or []]}

    receivers = {}
    for r in cfg.get("receivers") or []:
        if isinstance(r, Mapping):
            receivers[str(r.get("name"))] = sorted(
                f"{k}:{len(v or [])}" for k, v in r.items() if k.endswith("_configs") and v)
    return {"route": shape(cfg.get("route")), "receivers": receivers}


def tenants_in(doc: CommentedMap) -> Iterable[str]:
    for r in _root_routes(doc) or []:
        t = _route_tenant(r)
        if t is not None:
            yield t
