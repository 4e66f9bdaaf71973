"""The grafana provider (dashboardsMode: http): each tenant's folder and dashboards through
Grafana's HTTP API, identified by uid, read in bulk, with conflicts reported, never overwritten."""

from providers.grafana.provider import GrafanaProvider

__all__ = ["GrafanaProvider"]
