"""Resources: the plain-data unit every engine stage passes along, desired (`Resource`) and recorded
after an apply (`ResourceState`). Both are frozen; nothing mutates them after they are made.

Each holds its identity as one `Address` (`addr`); `address` (the text), `provider`, `type`, `name`
and `tenant` are read through it. The serialized form keeps the five keys it always had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecpctl.kernel.identity import Address


class Identified:
    """The parts of `addr`, for readers (a mixin of every record that holds an Address)."""

    addr: Address
    __slots__ = ()

    @property
    def address(self) -> str:
        return self.addr.text

    @property
    def provider(self) -> str:
        return self.addr.provider

    @property
    def type(self) -> str:
        return self.addr.type

    @property
    def name(self) -> str:
        return self.addr.name

    @property
    def tenant(self) -> str:
        return self.addr.tenant


@dataclass(frozen=True, slots=True)
class Resource(Identified):
    """A desired object. `attributes` is JSON-able data and is never mutated after expansion:
    equal parts of different resources' attributes, across tenants too, are one object
    (ecpctl/expand/sharing.py), so a change made in place would show in every resource holding it.
    Copy before changing (as `providers.kubernetes.marks.stamp` does).

    `sensitive` lists attribute paths (`a.b[0].c`) whose values must never be shown.
    `depends_on` lists addresses that must be applied before this one.
    """

    addr: Address
    attributes: Mapping[str, Any]
    sensitive: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def recorded(self, observed: Mapping[str, Any], *, attributes: Mapping[str, Any] | None = None,
                 private: Mapping[str, Any] | None = None) -> ResourceState:
        """What a provider returns after applying this resource: the same identity, sensitive
        paths and dependencies, with the read-back `observed`."""
        return ResourceState(addr=self.addr,
                             attributes=dict(self.attributes if attributes is None else attributes),
                             observed=observed, sensitive=tuple(self.sensitive),
                             depends_on=tuple(self.depends_on), private=private or {})


@dataclass(frozen=True, slots=True)
class ResourceState(Identified):
    """What the state store recorded about one resource after its last successful apply."""

    addr: Address
    attributes: Mapping[str, Any]
    observed: Mapping[str, Any]
    sensitive: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    private: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        a = self.addr
        return {
            "address": a.text, "provider": a.provider, "type": a.type,
            "name": a.name, "tenant": a.tenant,
            "attributes": dict(self.attributes), "observed": dict(self.observed),
            "sensitive": list(self.sensitive), "depends_on": list(self.depends_on),
            "private": dict(self.private),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ResourceState:
        return cls(
            addr=Address.from_parts(d["address"], d["tenant"], d["provider"], d["type"], d["name"]),
            attributes=d.get("attributes") or {},
            observed=d.get("observed") or {}, sensitive=tuple(d.get("sensitive") or ()),
            depends_on=tuple(d.get("depends_on") or ()), private=d.get("private") or {},
        )


def get_path(data: Any, path: str) -> Any:
    """Value at an attribute path (`data.password`, `spec.containers[0].image`), or None."""
    from ecpctl.kernel.paths import parse_path

    cur = data
    for part in parse_path(path):
        if isinstance(part, int):
            if isinstance(cur, list) and 0 <= part < len(cur):
                cur = cur[part]
            else:
                return None
        elif isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur
