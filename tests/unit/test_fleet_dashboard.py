"""The fleet dashboard (spec.monitoring.fleetDashboard): its queries, its uids, and its resources in
the plan of both dashboard modes, as the pseudo-tenant `_project` (offline, with the fake provider)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecpctl.dashboards import dashboard_uid as tenant_dashboard_uid
from ecpctl.dashboards import folder_uid as tenant_folder_uid
from ecpctl.dashboards_fleet import (
    RATE,
    dashboard_uid,
    fleet_dashboard,
    folder_title,
    folder_uid,
    queries,
)
from ecpctl.engine import desired_state
from ecpctl.expand.fleet import PROJECT_TENANT
from ecpctl.expand.service_rules import RECORDED, known_metric
from ecpctl.gitops import PROJECT_DIR
from ecpctl.kernel.ownership import DASHBOARD_TAG
from ecpctl.promql import VECTOR, parse

CONFIGMAP = "tenant._project.kubernetes.v1.ConfigMap.ecp-ai-fleet-dashboard"
FOLDER = "tenant._project.grafana.folder.ecp-ai_fleet"
DASHBOARD = "tenant._project.grafana.dashboard.ecp-ai_fleet-overview"


def enable(spec_dir: Path, block: str, mode: str = "configmap") -> Path:
    """The basic specs' Project with the fleet dashboard set to `block` in `mode`."""
    p = spec_dir / "project.yaml"
    text = p.read_text().replace("dashboardsMode: configmap", f"dashboardsMode: {mode}")
    p.write_text(text + f"    fleetDashboard: {block}\n")
    return spec_dir


def project_resources(spec_dir: Path) -> dict:
    return {r.address: r for r in desired_state(spec_dir).resources if r.tenant == PROJECT_TENANT}


def panel_exprs(board: dict) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p.get("targets", ())]


# ------------------------------------------------------------------ the dashboard


def test_every_query_is_an_instant_vector_of_known_series():
    board = fleet_dashboard("ecp-ai-", "Fleet")
    exprs = panel_exprs(board)
    assert sorted(exprs) == sorted(queries("ecp-ai-").values())
    for e in exprs:
        parsed = parse(e.replace(RATE, "5m"))
        assert parsed.type == VECTOR, e
        for sel in parsed.selectors:
            # read only what ecpctl's rules record or the known exporters publish
            assert known_metric(sel.metric, set(RECORDED)), (sel.metric, e)
            # and only this workspace's namespaces
            assert ("namespace", "=~", "ecp-ai-.+") in sel.matchers, e


def test_panels_cover_what_the_issue_asks():
    board = fleet_dashboard("ecp-ai-", "Fleet")
    titles = [p["title"] for p in board["panels"]]
    for wanted in ("Active tenants", "Deployment success rate", "CPU per tenant (% of limits)",
                   "Memory per tenant (% of limits)", "GPU per tenant (% utilisation)"):
        assert wanted in titles
    q = queries("ecp-ai-")
    for res in ("cpu", "memory", "gpu"):
        assert f"{res}_usage{{" in q[f"{res}_usage"]
    assert "kube_deployment_status_replicas_available" in q["success_rate"]
    assert "kube_deployment_spec_replicas" in q["success_rate"]
    # panel ids are unique, and the provider's bulk search finds the dashboard by its tag
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert DASHBOARD_TAG in board["tags"]


def test_uids_never_equal_a_tenants_and_fit_grafana():
    long_prefix = "a" * 40 + "-"
    for prefix in ("ecp-ai-", "ecp-demo-", long_prefix):
        for uid in (folder_uid(prefix), dashboard_uid(prefix)):
            assert len(uid) <= 40 and "_" in uid
    # the tenant uids that come closest: a tenant named after the fleet's uid parts
    for tid in ("fleet", "ai-fleet", "ai_fleet".replace("_", "-"), "fleet-overview"):
        theirs = {tenant_folder_uid(tid), tenant_dashboard_uid(tid, "overview"),
                  tenant_dashboard_uid(tid, "slo")}
        assert not theirs & {folder_uid("ecp-ai-"), dashboard_uid("ecp-ai-")}
    # two workspaces with their own namespace prefixes get their own dashboards
    assert folder_uid("ecp-ai-") != folder_uid("ecp-demo-")
    assert dashboard_uid("ecp-ai-") != dashboard_uid("ecp-demo-")
    assert folder_title("ECP-AI", "ecp-ai-") == "ECP-AI fleet (ecp-ai-*)"


def test_the_pseudo_tenant_is_the_one_render_writes_apart():
    assert PROJECT_TENANT == PROJECT_DIR


# ------------------------------------------------------------------ expansion


def test_off_by_default_nothing_is_added(spec_dir):
    assert project_resources(spec_dir) == {}


def test_configmap_mode(spec_dir):
    got = project_resources(enable(spec_dir, "{enabled: true, namespace: observability}"))
    assert list(got) == [CONFIGMAP]
    cm = got[CONFIGMAP].attributes
    assert cm["metadata"]["namespace"] == "observability"
    labels = cm["metadata"]["labels"]
    assert labels["grafana_dashboard"] == "1"
    assert labels["app.kubernetes.io/managed-by"] == "ecpctl"
    assert "ecp.ai/tenant" not in labels         # `_project` is no label value
    assert cm["metadata"]["annotations"]["grafana_folder"] == "ECP-AI fleet (ecp-ai-*)"
    (key, text), = cm["data"].items()
    board = json.loads(text)
    assert key == "ecp-ai_fleet-overview.json" and board["uid"] == "ecp-ai_fleet-overview"
    assert got[CONFIGMAP].depends_on == ()       # the namespace is the platform's, not ecpctl's


def test_http_mode(spec_dir):
    got = project_resources(enable(spec_dir, "{enabled: true}", mode="http"))
    assert sorted(got) == [DASHBOARD, FOLDER]
    assert got[FOLDER].attributes == {"uid": "ecp-ai_fleet", "title": "ECP-AI fleet (ecp-ai-*)"}
    d = got[DASHBOARD]
    assert d.depends_on == (FOLDER,)
    assert d.attributes["folder_uid"] == "ecp-ai_fleet"
    assert d.attributes["dashboard"]["uid"] == d.attributes["uid"] == "ecp-ai_fleet-overview"


def test_the_namespace_prefix_scopes_the_queries(spec_dir):
    p = spec_dir / "project.yaml"
    p.write_text(p.read_text().replace("kubernetes: {}", "kubernetes: {namespacePrefix: team-}"))
    got = project_resources(enable(spec_dir, "{enabled: true}"))
    (addr, r), = got.items()
    assert addr == "tenant._project.kubernetes.v1.ConfigMap.team-fleet-dashboard"
    board = json.loads(next(iter(r.attributes["data"].values())))
    assert board["uid"] == "team_fleet-overview"
    assert all('namespace=~"team-.+"' in e for e in panel_exprs(board))


def test_a_bad_namespace_is_one_line_at_its_place(spec_dir, ecpctl):
    enable(spec_dir, "{enabled: true, namespace: Not_A_Namespace}")
    r = ecpctl("plan", str(spec_dir))
    assert r.exit_code == 1
    line = next(ln for ln in r.output.splitlines() if "fleetDashboard" in ln)
    assert "project.yaml:" in line and "spec.monitoring.fleetDashboard.namespace" in line
    assert "Traceback" not in r.output
    assert not (ecpctl.data_dir / "state.db").exists()


# ------------------------------------------------------------------ plan and apply (fake provider)


@pytest.mark.parametrize("mode, addresses", [("configmap", [CONFIGMAP]),
                                             ("http", [DASHBOARD, FOLDER])])
def test_plan_apply_then_no_changes(spec_dir, ecpctl, mode, addresses):
    enable(spec_dir, "{enabled: true}", mode=mode)
    r = ecpctl("plan", str(spec_dir), "--target", "_project", "--json")
    assert r.exit_code == 0, r.output
    changes = json.loads(r.output)["resource_changes"]
    assert sorted(c["address"] for c in changes) == addresses
    assert all(c["actions"] == ["create"] for c in changes)
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0, r.output
    r = ecpctl("plan", str(spec_dir), "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output
    # the registry lists tenants only
    r = ecpctl("tenants", "--json")
    assert [t["tenant_id"] for t in json.loads(r.output)["tenants"]] == ["acme", "globex"]
    # turned off, the next plan deletes it, and only it
    p = spec_dir / "project.yaml"
    p.write_text(p.read_text().replace("fleetDashboard: {enabled: true}",
                                       "fleetDashboard: {enabled: false}"))
    r = ecpctl("plan", str(spec_dir), "--json")
    changes = [c for c in json.loads(r.output)["resource_changes"] if c["actions"] != ["no-op"]]
    assert sorted(c["address"] for c in changes) == addresses
    assert all(c["actions"] == ["delete"] for c in changes)


def test_a_tenant_target_leaves_the_fleet_dashboard_out(spec_dir, ecpctl):
    enable(spec_dir, "{enabled: true}")
    r = ecpctl("plan", str(spec_dir), "--target", "acme", "--json")
    assert r.exit_code == 0, r.output
    addrs = [c["address"] for c in json.loads(r.output)["resource_changes"]]
    assert addrs and all(a.startswith("tenant.acme.") for a in addrs)


def test_render_writes_it_under_project(spec_dir, ecpctl, tmp_path):
    enable(spec_dir, "{enabled: true}")
    out = tmp_path / "rendered"
    r = ecpctl("render", str(spec_dir), "-o", str(out))
    assert r.exit_code == 0, r.output
    files = list((out / PROJECT_DIR).iterdir())
    assert [f.name for f in files] == ["05-configmap-ecp-ai-fleet-dashboard.yaml"]
    assert "namespace: monitoring" in files[0].read_text()


def test_rbac_namespaced_grants_the_dashboards_namespace(spec_dir):
    from ecpctl.rbac import grant_for
    enable(spec_dir, "{enabled: true, namespace: observability}")
    grant = grant_for(desired_state(spec_dir).resources, service_account="ecpctl",
                      namespace="ecp-system", namespaced=True)
    assert "observability" in grant.tenant_namespaces
    roles = [o for o in grant.objects() if o["kind"] == "Role"]
    assert "observability" in {r["metadata"]["namespace"] for r in roles}
