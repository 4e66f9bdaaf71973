"""Resources: the plain-data unit every engine stage passes along, desired (`Resource`) and recorded
after an apply (`ResourceState`). Both are frozen; nothing mutates them after they are made."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Resource:
    """A desired object. `attributes` is JSON-able data and is never mutated after expansion.

    `sensitive` lists dotted attribute paths whose values must never be shown.
    `depends_on` lists addresses that must be applied before this one.
    """

    address: str
    provider: str
    type: str
    name: str
    tenant: str
    attributes: Mapping[str, Any]
    sensitive: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceState:
    """What the state store recorded about one resource after its last successful apply."""

    address: str
    provider: str
    type: str
    name: str
    tenant: str
    attributes: Mapping[str, Any]
    observed: Mapping[str, Any]
    sensitive: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    private: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address, "provider": self.provider, "type": self.type,
            "name": self.name, "tenant": self.tenant,
            "attributes": dict(self.attributes), "observed": dict(self.observed),
            "sensitive": list(self.sensitive), "depends_on": list(self.depends_on),
            "private": dict(self.private),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ResourceState":
        return cls(
            address=d["address"], provider=d["provider"], type=d["type"], name=d["name"],
            tenant=d["tenant"], attributes=d.get("attributes") or {},
            observed=d.get("observed") or {}, sensitive=tuple(d.get("sensitive") or ()),
            depends_on=tuple(d.get("depends_on") or ()), private=d.get("private") or {},
        )


def get_path(data: Any, path: str) -> Any:
    """Value at a dotted path (`data.password`), or None when absent."""
    cur = data
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur
