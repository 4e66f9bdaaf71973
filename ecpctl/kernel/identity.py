"""Resource identity: the address every stage, the state store and the plan file name an object by.

`tenant.<id>.<provider>.<type>.<name>`, e.g. `tenant.acme.kubernetes.apps/v1.Deployment.callbot`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

ADDRESS_PREFIX = "tenant"


def make_address(tenant: str, provider: str, rtype: str, name: str) -> str:
    """`tenant.<id>.<provider>.<type>.<name>`, e.g. `tenant.acme.kubernetes.apps/v1.Deployment.callbot`."""
    return f"{ADDRESS_PREFIX}.{tenant}.{provider}.{rtype}.{name}"


@dataclass(frozen=True, slots=True)
class Address:
    """The typed identity of one managed object: every record (desired resource, recorded state,
    planned change, live object, saved plan) holds one, and exposes its parts as properties.

    `text` is the readable address users type (`--target`, `state show`) and the key of every
    mapping by address; it is composed once, at construction.
    """

    tenant: str
    provider: str
    type: str
    name: str
    text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", make_address(self.tenant, self.provider, self.type,
                                                      self.name))

    @classmethod
    def parse(cls, text: str) -> Address:
        """The parts of a typed address; the type may hold dots (`apps/v1.Deployment`), the name
        may not (records keep their parts, so a stored name with dots never needs parsing)."""
        parts = text.split(".")
        if len(parts) < 5 or parts[0] != ADDRESS_PREFIX or not all(parts):
            raise ValueError(
                f"{text!r} is not a resource address (tenant.<id>.<provider>.<type>.<name>)")
        return cls(parts[1], parts[2], ".".join(parts[3:-1]), parts[-1])

    @classmethod
    def from_parts(cls, address: str, tenant: str, provider: str, rtype: str,
                   name: str) -> Address:
        """The identity of a serialized record (state row, saved plan) from its keys. When the
        stored `address` disagrees with its parts (a record moved by an older `state mv`, which
        rewrote the address alone) the address wins: it is what the record was keyed by."""
        ident = cls(tenant, provider, rtype, name)
        if ident.text == address:
            return ident
        return cls.parse(address)

    def __str__(self) -> str:
        return self.text


def matches(address: str, tenant: str, patterns: Iterable[str]) -> bool:
    """True when an address matches any glob, or any bare tenant id, in `patterns`."""
    for pat in patterns:
        if pat == tenant or fnmatch.fnmatchcase(address, pat):
            return True
        if address.startswith(pat + "."):
            return True
    return False


def address_tenant(address: str) -> str | None:
    """The tenant id of an address (`tenant.<id>....`); None for text that is no address."""
    prefix, dot, rest = address.partition(".")
    tenant = rest.partition(".")[0]
    return tenant if dot and prefix == ADDRESS_PREFIX and tenant else None


_GLOB = frozenset("*?[")


def tenants_named(patterns: Iterable[str]) -> frozenset[str] | None:
    """The tenants whose addresses `matches(..., patterns)` can select, when every pattern names
    its tenant literally (a bare tenant id, or `tenant.<id>` followed by anything); None when one
    could match any tenant's addresses (a glob in or before the tenant id, another prefix)."""
    out: set[str] = set()
    for pat in patterns:
        head, dot, rest = pat.partition(".")
        if not dot:
            if pat == ADDRESS_PREFIX or _GLOB & set(pat):     # `tenant` prefixes every address
                return None
            out.add(pat)               # a bare tenant id: matches that tenant alone
            continue
        if head != ADDRESS_PREFIX:
            return None
        tenant = rest.partition(".")[0]
        if not tenant or _GLOB & set(tenant):
            return None
        out.add(tenant)
    return frozenset(out)
