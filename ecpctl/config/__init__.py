"""Spec files: pydantic models of `Tenant` and `Project`, and the loader that validates them.

Every problem comes back as a Diagnostic with file, line, column and field; nothing is written.
"""

from ecpctl.config.loader import Config, LoadedTenant, load_config
from ecpctl.config.models import (
    API_VERSION, SERVICE_TYPES, PriceTable, Project, Sla, Tenant, TenantSpec, default_project,
)

__all__ = ["Config", "LoadedTenant", "load_config", "API_VERSION", "SERVICE_TYPES", "PriceTable",
           "Project", "Sla", "Tenant", "TenantSpec", "default_project"]
