"""One copy of each equal sub-structure of desired attributes, shared by every resource that has it.

Most of a tenant's attributes are the same as another tenant's of the same shape (a container's
probe, ports and resources, a LimitRange's limits, an HPA's metric): at 5,000 tenants the copies
were a fifth of an offline plan's memory. Desired attributes are never mutated after expansion
(`Resource`), so equal parts can be one object. Only the parts that hold no text of the tenant's
id are shared, which keeps the table to the few hundred structures tenants have in common
instead of one entry per object.

Expansion calls `Shared.share` on each tenant's resources once they are built. It replaces a
part by the equal one already seen, in place (the replaced value is equal and of the same type,
so every reader sees the same data); a resource's top-level attributes keep their identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ecpctl.kernel import Resource


class Shared:
    """The table of shared parts of one expansion (an `ExpandContext` holds one)."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        # str -> itself; int -> itself (keyed by (int, value)); a container's key (its type and
        # the ids of its shared children, in order) -> the container
        self._parts: dict[Any, Any] = {}

    def share(self, resources: Iterable[Resource], tenant: str) -> None:
        """Makes the attributes of `resources` (just expanded, shared with nothing outside this
        expansion) use the table's parts; `tenant`: their tenant id (parts that hold it stay)."""
        for r in resources:
            self._part(r.attributes, tenant)

    def _part(self, value: Any, tenant: str) -> Any:
        """The shared object equal to `value`, or None when `value` is not shared (it holds the
        tenant's id, or a type the table does not compare exactly, like float)."""
        t = type(value)
        parts = self._parts
        if t is str:
            if tenant in value:
                return None
            return parts.setdefault(value, value)
        if t is dict:
            key: list[Any] = [dict]
            whole = True
            for k, v in value.items():
                sv = self._part(v, tenant)
                if sv is None:
                    whole = False
                    continue
                if sv is not v:
                    value[k] = sv       # an equal value of the same type: nothing reads differently
                if whole:
                    sk = self._part(k, tenant) if type(k) is str else None
                    if sk is None:
                        whole = False
                    else:
                        key += (id(sk), id(sv))
            return parts.setdefault(tuple(key), value) if whole else None
        if t is list:
            key = [list]
            whole = True
            for i, v in enumerate(value):
                sv = self._part(v, tenant)
                if sv is None:
                    whole = False
                    continue
                if sv is not v:
                    value[i] = sv
                key.append(id(sv))
            return parts.setdefault(tuple(key), value) if whole else None
        if t is int:
            return parts.setdefault((int, value), value)
        if t is bool or value is None:
            return value
        return None
