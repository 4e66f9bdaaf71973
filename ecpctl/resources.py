"""Resources: the plain-data unit every engine stage passes along.

A Resource is one object in one provider, with a stable readable address.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

ADDRESS_PREFIX = "tenant"


def make_address(tenant: str, provider: str, rtype: str, name: str) -> str:
    """`tenant.<id>.<provider>.<type>.<name>`, e.g. `tenant.acme.kubernetes.apps/v1.Deployment.callbot`."""
    return f"{ADDRESS_PREFIX}.{tenant}.{provider}.{rtype}.{name}"


@dataclass(frozen=True)
class Address:
    tenant: str
    provider: str
    type: str
    name: str

    @classmethod
    def parse(cls, text: str) -> "Address":
        parts = text.split(".")
        if len(parts) < 5 or parts[0] != ADDRESS_PREFIX:
            raise ValueError(
                f"{text!r} is not a resource address (tenant.<id>.<provider>.<type>.<name>)")
        return cls(parts[1], parts[2], ".".join(parts[3:-1]), parts[-1])

    def __str__(self) -> str:
        return make_address(self.tenant, self.provider, self.type, self.name)


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


def matches(address: str, tenant: str, patterns: Iterable[str]) -> bool:
    """True when an address matches any glob, or any bare tenant id, in `patterns`."""
    for pat in patterns:
        if pat == tenant or fnmatch.fnmatchcase(address, pat):
            return True
        if address.startswith(pat + "."):
            return True
    return False


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
