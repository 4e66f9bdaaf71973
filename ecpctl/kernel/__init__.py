"""The kernel: what every other layer imports downward from, and which imports nothing of the project.

Diagnostics and the typed error hierarchy, resource identity, desired and recorded resources; the
retry policy, quantities, durations, attribute paths and ownership marks are its submodules.
"""

from ecpctl.kernel.diagnostics import Diagnostic, Severity, has_errors
from ecpctl.kernel.errors import (Conflict, ConfigError, EcpctlError, Forbidden, GraphError,
                                  InUse, Invalid, LockError, NotFound, ProviderError,
                                  ProviderNotConfigured, ServerError, StateError, Throttled,
                                  Timeout, Unreachable)
from ecpctl.kernel.identity import (ADDRESS_PREFIX, Address, address_tenant, make_address,
                                    matches, tenants_named)
from ecpctl.kernel.resource import Resource, ResourceState, get_path

__all__ = ["Diagnostic", "Severity", "has_errors", "Conflict", "ConfigError", "EcpctlError",
           "Forbidden", "GraphError", "InUse", "Invalid", "LockError", "NotFound", "ProviderError",
           "ProviderNotConfigured", "ServerError", "StateError", "Throttled", "Timeout",
           "Unreachable", "ADDRESS_PREFIX", "Address", "address_tenant", "make_address", "matches",
           "tenants_named", "Resource", "ResourceState", "get_path"]
