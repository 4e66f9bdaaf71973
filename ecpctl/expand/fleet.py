"""Project-level resources: the fleet dashboard (spec.monitoring.fleetDashboard), in either
dashboard mode (a ConfigMap for kube-prometheus-stack's Grafana sidecar, or a folder and a
dashboard through Grafana's API).

They belong to the pseudo-tenant `_project` (`tenant._project.grafana.dashboard.ecp-ai_fleet-overview`):
a leading underscore is no DNS label, so no tenant id can take it; `--target _project` selects
them, and `render` writes them under `_project/` (ecpctl.gitops). The tenants registry never
lists it (only declared tenants have rows).
"""

from __future__ import annotations

import json

from ecpctl.dashboards_fleet import dashboard_uid, fleet_dashboard, folder_title, folder_uid
from ecpctl.expand.context import MANAGED_BY, Builder, ExpandContext
from ecpctl.expand.kubernetes import add_object, meta
from ecpctl.kernel import Resource

PROJECT_TENANT = "_project"
SIDECAR_LABEL = "grafana_dashboard"       # kube-prometheus-stack's sidecar default label
SIDECAR_FOLDER = "grafana_folder"         # its folder annotation (folderAnnotation)


def configmap_name(namespace_prefix: str) -> str:
    """`ecp-ai-fleet-dashboard`: the prefix keeps two workspaces' ConfigMaps apart."""
    return f"{namespace_prefix}fleet-dashboard"


def expand_project(ctx: ExpandContext) -> list[Resource]:
    """The Project's own resources; none unless the Project turns the fleet dashboard on."""
    mon = ctx.project.spec.monitoring
    fleet = mon.fleetDashboard
    if not fleet.enabled:
        return []
    b = Builder(PROJECT_TENANT)
    prefix = ctx.namespace_prefix
    g = ctx.project.spec.providers.grafana
    ftitle = folder_title(g.folderPrefix if g is not None else "ECP-AI", prefix)
    board = fleet_dashboard(prefix, ftitle)
    if mon.dashboardsMode == "configmap":
        # no ecp.ai/tenant label: `_project` is no label value, and the object is no tenant's
        lbls = dict(sorted({**MANAGED_BY, "app.kubernetes.io/part-of": "ecp-ai",
                            SIDECAR_LABEL: "1"}.items()))
        add_object(b, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": meta(configmap_name(prefix), fleet.namespace, lbls,
                             {SIDECAR_FOLDER: ftitle}),
            "data": {f"{board['uid']}.json": json.dumps(board, sort_keys=True,
                                                        ensure_ascii=False, indent=1)}})
        return b.resources
    fuid = folder_uid(prefix)
    folder = b.add("grafana", "folder", fuid, {"uid": fuid, "title": ftitle})
    b.add("grafana", "dashboard", dashboard_uid(prefix),
          {"uid": board["uid"], "folder_uid": fuid, "dashboard": board}, depends_on=(folder,))
    return b.resources
