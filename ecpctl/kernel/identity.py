"""Resource identity: the address every stage, the state store and the plan file name an object by.

`tenant.<id>.<provider>.<type>.<name>`, e.g. `tenant.acme.kubernetes.apps/v1.Deployment.callbot`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Iterable

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


def matches(address: str, tenant: str, patterns: Iterable[str]) -> bool:
    """True when an address matches any glob, or any bare tenant id, in `patterns`."""
    for pat in patterns:
        if pat == tenant or fnmatch.fnmatchcase(address, pat):
            return True
        if address.startswith(pat + "."):
            return True
    return False
