"""Bulk reads: one LIST per kind (label selector `app.kubernetes.io/managed-by=ecpctl`), never a GET
per object, so that a no-op plan costs O(kinds) requests whatever the number of tenants.

A read scoped to a few tenants (`plan --target`) narrows each LIST to them with a set-based
selector on `ecp.ai/tenant`, so that `--target` among thousands of tenants reads only their objects.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Iterator

from providers.kubernetes.client import KubeClient, KubeError
from ecpctl.kernel.ownership import TENANT_LABEL
from providers.kubernetes.kinds import MANAGED_BY_SELECTOR, KindInfo

# Objects per LIST page. 500 (kubectl's chunk size) made a no-op plan's requests grow with the
# fleet (36 LISTs instead of 14 at 500 tenants); at 5,000 it stays one LIST per kind up to 5,000
# objects of a kind, and ecpctl keeps every listed object for the diff anyway.
PAGE = 5000

# Up to this many tenants, LISTs select their tenants by label (`ecp.ai/tenant in (...)`); above,
# the read is the whole fleet or most of it and one unscoped LIST per kind is cheaper to send and
# to answer than a selector naming hundreds of values.
SCOPE_MAX_TENANTS = 50


@dataclass(frozen=True)
class Target:
    """One object of interest: where the address points."""

    address: str
    api_version: str
    kind: str
    name: str
    namespace: str | None
    tenant: str | None = None       # its `ecp.ai/tenant` label, when it carries one


def tenant_of(attributes: Any) -> str | None:
    """The `ecp.ai/tenant` label of a manifest (desired or recorded)."""
    labels = ((attributes or {}).get("metadata") or {}).get("labels") or {}
    value = labels.get(TENANT_LABEL)
    return value if isinstance(value, str) and value else None


def tenant_scope(targets: Iterable[Target]) -> frozenset[str] | None:
    """The tenants that bound a LIST of these targets, or None when it cannot be bounded (an
    object without a tenant label, or too many tenants to be worth naming)."""
    tenants = set()
    for t in targets:
        if t.tenant is None:
            return None
        tenants.add(t.tenant)
    if not tenants or len(tenants) > SCOPE_MAX_TENANTS:
        return None
    return frozenset(tenants)


def with_tenants(selector: str | None, tenants: frozenset[str] | None) -> str | None:
    """`selector` narrowed to `tenants` (a set-based requirement; None leaves it as it is)."""
    if not tenants:
        return selector
    clause = f"{TENANT_LABEL} in ({','.join(sorted(tenants))})"
    return f"{selector},{clause}" if selector else clause


def list_objects(client: KubeClient, info: KindInfo, *, selector: str | None = MANAGED_BY_SELECTOR,
                 namespace: str | None = None, field_selector: str | None = None) -> list[dict]:
    """Every object of a kind (cluster-wide unless `namespace`), following `continue` pages."""
    out: list[dict] = []
    token = None
    while True:
        query = [("limit", str(PAGE))]
        if selector:
            query.append(("labelSelector", selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if token:
            query.append(("continue", token))
        doc = client.request("GET", info.collection_path(namespace), verb="list", query=query) or {}
        for item in doc.get("items") or ():
            # items of a typed list carry no apiVersion/kind
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
            out.append(item)
        token = (doc.get("metadata") or {}).get("continue")
        if not token:
            return out


def _list_kind(client: KubeClient, info: KindInfo, targets: list[Target]) -> list[dict]:
    namespaces = [t.namespace for t in targets]
    tenants = tenant_scope(targets)
    if (info.api_version, info.kind) == ("v1", "Namespace"):
        # Namespaces are read without a selector: whether a namespace exists at all matters
        # (objects cannot be dry-run into a missing one), and an unlabelled one may be adopted.
        # Scoped to a few tenants: a GET of each of their namespaces instead of the whole list.
        if tenants is None:
            return list_objects(client, info, selector=None)
        return _get_each(client, info, sorted({t.name for t in targets}))
    selector = with_tenants(MANAGED_BY_SELECTOR, tenants)
    try:
        return list_objects(client, info, selector=selector)
    except KubeError as exc:
        if exc.status != 403 or not info.namespaced:
            raise
    # not allowed cluster-wide: one LIST per namespace of interest instead
    out: list[dict] = []
    for ns in sorted({n for n in namespaces if n}):
        try:
            out.extend(list_objects(client, info, selector=selector, namespace=ns))
        except KubeError as exc:
            if not exc.not_found:
                raise
    return out


def _get_each(client: KubeClient, info: KindInfo, names: list[str]) -> list[dict]:
    out = []
    for name in names:
        try:
            obj = client.request("GET", info.object_path(name, None), verb="get")
        except KubeError as exc:
            if exc.not_found:
                continue
            raise
        if obj:
            obj.setdefault("apiVersion", info.api_version)
            obj.setdefault("kind", info.kind)
            out.append(obj)
    return out


def read_kinds(client: KubeClient, kinds: dict[KindInfo, list[Target]],
               parallelism: int = 8) -> Iterator[tuple[KindInfo, list[dict]]]:
    """(kind, objects) for each kind, LISTs sent in parallel."""
    items = list(kinds.items())
    if not items:
        return iter(())

    def one(pair):
        info, targets = pair
        return info, _list_kind(client, info, targets)

    workers = max(1, min(parallelism, len(items)))
    if workers == 1:
        return iter([one(p) for p in items])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return iter(list(pool.map(one, items)))


def index(objects: Iterable[dict]) -> dict[tuple[str | None, str], dict]:
    """(namespace, name) -> object."""
    out: dict[tuple[str | None, str], dict] = {}
    for o in objects:
        md = o.get("metadata") or {}
        out[(md.get("namespace"), md.get("name"))] = o
    return out


def hpa_targets(objects: Iterable[dict[str, Any]]) -> set[tuple[str | None, str]]:
    """(namespace, deployment name) of every HPA that scales a Deployment."""
    out = set()
    for o in objects:
        ref = (o.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name"):
            out.add(((o.get("metadata") or {}).get("namespace"), ref["name"]))
    return out
