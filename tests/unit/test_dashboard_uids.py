"""A tenant's Grafana uids and folder title per workspace (ecpctl/dashboards.py,
ecpctl/expand/monitoring.py): the same tenant in two workspaces gets two folders and two sets of
dashboards, the default workspace keeps the uids of before, and the dashboards query the
workspace's own namespace."""

from __future__ import annotations

import json

from ecpctl.dashboards import UID_MAX, dashboard_uid, folder_uid
from ecpctl.dashboards_fleet import dashboard_uid as fleet_dashboard_uid
from ecpctl.dashboards_fleet import folder_uid as fleet_folder_uid
from ecpctl.engine import desired_state
from tests.unit.test_monitoring_expand import write

WORKSPACES = """\
  workspaces:
    demo:
      providers:
        kubernetes: {namespacePrefix: ecp-demo-}
    production: {}
"""


def test_default_workspace_keeps_the_uids_of_before():
    assert folder_uid("acme") == folder_uid("acme", "default") == "ecp-ai-acme"
    assert dashboard_uid("acme", "slo", "default") == "ecp-acme-slo"


def test_each_workspace_has_its_own_uids_within_grafanas_limit():
    long_tenant = "t" * 63
    for tid in ("acme", long_tenant):
        for key in ("overview", "slo"):
            uids = {ws: dashboard_uid(tid, key, ws)
                    for ws in ("default", "demo", "production", "demo.eu", "w" * 64)}
            assert len(set(uids.values())) == len(uids), uids
            assert all(len(u) <= UID_MAX for u in uids.values()), uids
        folders = {folder_uid(tid, ws) for ws in ("default", "demo", "demo.eu", "demo-eu")}
        assert len(folders) == 4 and all(len(u) <= UID_MAX for u in folders)
    # readable where Grafana allows it; a '.' (which a uid cannot hold) is hashed
    assert folder_uid("acme", "demo") == "ecp-ai-acme_ws-demo"
    assert dashboard_uid("acme", "overview", "demo") == "ecp-acme-overview_ws-demo"
    assert "." not in folder_uid("acme", "demo.eu") and "_wh-" in folder_uid("acme", "demo.eu")


def test_a_workspace_suffix_never_makes_another_tenants_or_the_fleets_uid():
    # tenant `acme` in workspace `fleet` against the fleet of namespace prefix `ecp-ai-acme-`
    assert folder_uid("acme", "fleet") != fleet_folder_uid("ecp-ai-acme-")
    assert dashboard_uid("acme", "overview", "fleet") != fleet_dashboard_uid("ecp-acme-overview-")
    # tenant `demo-acme` in the default workspace against tenant `acme` in workspace `demo`
    assert folder_uid("demo-acme") != folder_uid("acme", "demo")


def test_expansion_per_workspace(tmp_path):
    root = write(tmp_path, dashboards="http")
    (root / "project.yaml").write_text((root / "project.yaml").read_text() + WORKSPACES)
    res = {ws: {r.address: r for r in desired_state(root, workspace=ws).resources}
           for ws in ("production", "demo")}
    prod = res["production"]["tenant.acme.grafana.folder.ecp-ai-acme_ws-production"]
    demo = res["demo"]["tenant.acme.grafana.folder.ecp-ai-acme_ws-demo"]
    assert prod.attributes["title"] == "Tenants / Acme 콜센터 [production]"
    assert demo.attributes["title"] == "Tenants / Acme 콜센터 [demo]"
    board = res["demo"]["tenant.acme.grafana.dashboard.ecp-acme-overview_ws-demo"].attributes
    assert board["folder_uid"] == "ecp-ai-acme_ws-demo"
    assert board["dashboard"]["uid"] == "ecp-acme-overview_ws-demo"
    # its queries read the workspace's namespace, not the default prefix's
    text = json.dumps(board["dashboard"])
    assert 'namespace=\\"ecp-demo-acme\\"' in text and "ecp-ai-acme" not in text


def test_configmap_mode_dashboards_carry_the_workspace_uid(tmp_path):
    root = write(tmp_path, dashboards="configmap")
    (root / "project.yaml").write_text((root / "project.yaml").read_text() + WORKSPACES)
    res = {r.address: r for r in desired_state(root, workspace="demo").resources}
    cm = res["tenant.acme.kubernetes.v1.ConfigMap.ecp-ai-dashboard-slo"].attributes
    (text,) = cm["data"].values()
    assert json.loads(text)["uid"] == "ecp-acme-slo_ws-demo"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "Tenants / Acme 콜센터 [demo]"
