"""What expansion needs besides the spec: project settings and a source of generated secrets."""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping
from types import MappingProxyType

from ecpctl.kernel import Address, Diagnostic, Resource, get_path, make_address
from ecpctl.kernel.ownership import MANAGED_BY, TENANT_LABEL  # noqa: F401 - for ecpctl.expand.*
from ecpctl.kernel.scrub import remember
from ecpctl.expand.dashboard_text import DashboardTexts
from ecpctl.expand.sharing import Shared


def generate_password() -> str:
    """A 32-character URL-safe password (192 bits), safe inside a DSN and a YAML scalar."""
    return secrets.token_urlsafe(24)


@dataclass
class SecretSource:
    """Returns a secret kept in prior state, or makes a new one (and for `-replace`d addresses).

    `prior` maps address -> attributes recorded in state.
    """

    prior: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    regenerate: frozenset[str] = frozenset()
    make: Callable[[], str] = generate_password

    def get(self, address: str, path: str) -> str:
        value = None
        if address not in self.regenerate:
            attrs = self.prior.get(address)
            value = get_path(attrs, path) if attrs is not None else None
        if not (isinstance(value, str) and value):
            value = self.make()
        # every output is scrubbed of it from now on, whatever later carries it into a message
        remember(value)
        return value


@dataclass(frozen=True)
class ExpandContext:
    project: Any                      # ecpctl.config.models.Project
    secrets: SecretSource
    # the workspace planned: what keeps its Grafana uids and Prometheus rules file apart from
    # another workspace's on the same server
    workspace: str = "default"
    # the parts of attributes that tenants have in common, one copy of each (ecpctl/expand/sharing.py)
    shared: Shared = field(default_factory=Shared, repr=False, compare=False)
    # the dashboards' text, one template per shape of tenant (ecpctl/expand/dashboard_text.py)
    dashboard_texts: DashboardTexts = field(default_factory=DashboardTexts, repr=False,
                                            compare=False)

    @property
    def namespace_prefix(self) -> str:
        k = self.project.spec.providers.kubernetes
        return k.namespacePrefix if k is not None else "ecp-ai-"


# the meta of a resource that has none: one read-only mapping for all of them, not one dict each
NO_META: Mapping[str, Any] = MappingProxyType({})


class Builder:
    """Collects one tenant's resources and the warnings found on the way, and hands out addresses."""

    def __init__(self, tenant: str):
        self.tenant = tenant
        self.resources: list[Resource] = []
        # plan-time warnings (a custom alert nothing feeds, a webhook variable unset): reported by
        # validate and every plan, not attached to a resource
        self.diagnostics: list[Diagnostic] = []
        # one tuple per distinct set of dependencies (most of a tenant's objects need just its
        # namespace)
        self._depends_on: dict[tuple[str, ...], tuple[str, ...]] = {}

    def address(self, provider: str, rtype: str, name: str) -> str:
        return make_address(self.tenant, provider, rtype, name)

    def add(self, provider: str, rtype: str, name: str, attributes: Mapping[str, Any], *,
            sensitive: tuple[str, ...] = (), depends_on: tuple[str, ...] = (),
            meta: Mapping[str, Any] | None = None) -> str:
        # a type is one string for every resource of it (ktype() composes a new one each time)
        ident = Address(self.tenant, provider, sys.intern(rtype), name)
        deps = tuple(sorted(set(depends_on)))
        self.resources.append(Resource(
            addr=ident, attributes=attributes, sensitive=sensitive,
            depends_on=self._depends_on.setdefault(deps, deps), meta=meta or NO_META))
        return ident.text
