"""The marks ecpctl puts on what it manages, shared by the expansion that writes them and the
providers that select on them."""

from __future__ import annotations

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGER = "ecpctl"
MANAGED_BY = {MANAGED_BY_KEY: MANAGER}
MANAGED_BY_SELECTOR = f"{MANAGED_BY_KEY}={MANAGER}"
TENANT_LABEL = "ecp.ai/tenant"
DASHBOARD_TAG = "ecp-ai"        # every ecpctl dashboard carries it: the Grafana provider's bulk search uses it
