"""The grafana provider (dashboardsMode: http) against tests/fakes/grafana.py, a fake that follows
Grafana's documented HTTP API: Grafana itself cannot be installed on the test machine."""

from __future__ import annotations

import copy

import pytest

from ecpctl.kernel import ProviderError
from ecpctl.kernel.paths import changed_paths
from providers.grafana import GrafanaProvider
from providers.protocol import (
    ApplyRequest,
    ConfigureRequest,
    DeleteRequest,
    ImportRequest,
    PlanRequest,
    ReadRequest,
    ValidateRequest,
)
from tests.integration.monitoring_support import resources, write_specs

pytestmark = pytest.mark.integration
TOKEN_ENV = "ECPCTL_TEST_GRAFANA_TOKEN"


@pytest.fixture
def specs(tmp_path, fake_grafana):
    return write_specs(tmp_path / "specs", sink="http://127.0.0.1:9", config_file="/dev/null",
                       am_url="http://127.0.0.1:9", amtool="amtool", grafana_url=fake_grafana.url)


@pytest.fixture
def provider(fake_grafana, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, fake_grafana.token)
    p = GrafanaProvider()
    resp = p.configure(ConfigureRequest(settings={"url": fake_grafana.url, "tokenEnv": TOKEN_ENV},
                                        options={}))
    assert not resp.diagnostics
    yield p
    p.close()


def apply_all(p, res, states=None):
    states = dict(states or {})
    for r in sorted(res, key=lambda r: (r.type != "folder", r.address)):
        states[r.address] = p.apply(ApplyRequest(desired=r, prior=states.get(r.address),
                                                 live=None)).state
    return states


def ui_save(g, uid, edit, *, folder_uid=None, keep_folder=True):
    """What the Grafana UI does on save: POST the edited JSON with the version it loaded."""
    import httpx
    h = {"Authorization": f"Bearer {g.token}"}
    body = httpx.get(f"{g.url}/api/dashboards/uid/{uid}", headers=h).json()
    dash = copy.deepcopy(body["dashboard"])
    edit(dash)
    payload = {"dashboard": dash, "overwrite": False}
    if keep_folder:
        payload["folderUid"] = folder_uid if folder_uid is not None else body["meta"]["folderUid"]
    r = httpx.post(f"{g.url}/api/dashboards/db", headers=h, json=payload)
    assert r.status_code == 200, r.text
    return r.json()


def test_apply_then_read_is_a_no_op(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    assert sorted(r.type for r in res) == ["dashboard"] * 4 + ["folder"] * 2
    states = apply_all(provider, res)
    assert set(fake_grafana.folders) == {"ecp-ai-acme", "ecp-ai-globex"}
    assert fake_grafana.folders["ecp-ai-acme"]["title"] == "ECP-AI / acme call center"
    for uid in ("ecp-acme-overview", "ecp-acme-slo"):
        assert fake_grafana.dashboards[uid]["folder_uid"] == "ecp-ai-acme"
        assert states[f"tenant.acme.grafana.dashboard.{uid}"].private["version"] == 1
    fake_grafana.reset_counts()
    resp = provider.read(ReadRequest(desired=res, prior=list(states.values())))
    assert set(resp.live) == {r.address for r in res}
    for a, s in states.items():
        assert dict(resp.live[a].observed) == dict(s.observed), a
    # two list calls, then one GET per dashboard (search hits carry no version)
    assert resp.requests == {"GET": 2 + 4}
    assert fake_grafana.count("GET", "/api/folders") == 1
    assert fake_grafana.count("GET", "/api/search") == 1
    assert fake_grafana.count("GET", "/api/dashboards/uid/") == 4
    assert fake_grafana.count("POST") == fake_grafana.count("PUT") == 0


def test_first_read_of_new_tenants_costs_three_requests(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    resp = provider.read(ReadRequest(desired=res, prior=[]))
    # the two lists, and one search by uid for the dashboards to be created (made by hand?)
    assert resp.live == {} and resp.requests == {"GET": 3}


def test_ui_edit_shows_as_drift_and_apply_takes_it_back(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    states = apply_all(provider, res)
    addr = "tenant.acme.grafana.dashboard.ecp-acme-overview"

    def edit(d):
        d["panels"][1]["title"] = "CPU (edited in the UI)"
        d["iteration"] = 1712345678901                   # what the UI adds on save
        for p in d["panels"]:
            p["pluginVersion"] = "10.4.0"
    ui_save(fake_grafana, "ecp-acme-overview", edit)
    live = provider.read(ReadRequest(desired=res, prior=list(states.values()))).live
    drifted = {a for a in states if dict(live[a].observed) != dict(states[a].observed)}
    assert drifted == {addr}
    d = next(r for r in res if r.address == addr)
    plan = provider.plan(PlanRequest(desired=d, prior=states[addr], live=live[addr]))
    assert changed_paths(dict(live[addr].observed), dict(plan.planned)) == [
        "dashboard.panels[1].title"]
    new = provider.apply(ApplyRequest(desired=d, prior=states[addr], live=None)).state
    stored = fake_grafana.dashboards["ecp-acme-overview"]
    assert stored["json"]["panels"][1]["title"] == "CPU per service (cores)"
    assert stored["version"] == 3 and new.private["version"] == 3
    assert stored["folder_uid"] == "ecp-ai-acme"
    assert dict(new.observed) == dict(states[addr].observed)


def test_server_managed_fields_are_not_drift(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    states = apply_all(provider, res)

    def renumber(d):
        for i, p in enumerate(d["panels"]):
            p["id"] = 100 + i                            # panel ids are Grafana's to manage
            p["pluginVersion"] = "11.0.0"
    ui_save(fake_grafana, "ecp-acme-slo", renumber)      # also bumps version to 2
    live = provider.read(ReadRequest(desired=res, prior=list(states.values()))).live
    for a, s in states.items():
        assert dict(live[a].observed) == dict(s.observed), a


def test_version_mismatch_is_a_conflict_naming_the_dashboard(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    states = apply_all(provider, res)
    provider.read(ReadRequest(desired=res, prior=list(states.values())))   # the plan reads v1
    ui_save(fake_grafana, "ecp-globex-slo", lambda d: d.update(title="someone else's"))  # v2
    d = next(r for r in res if r.name == "ecp-globex-slo")
    changed = copy.deepcopy(dict(d.attributes))
    changed["dashboard"]["refresh"] = "5m"
    from dataclasses import replace
    with pytest.raises(ProviderError) as info:
        provider.apply(ApplyRequest(desired=replace(d, attributes=changed),
                                    prior=states[d.address], live=None))
    msg = str(info.value)
    assert "conflict" in msg and "globex call center — SLO 99.5%" in msg
    assert "ecp-globex-slo" in msg and "version-mismatch" in msg
    assert not info.value.retryable and info.value.address == d.address
    assert fake_grafana.dashboards["ecp-globex-slo"]["json"]["title"] == "someone else's"


def test_a_dashboard_moved_to_the_root_is_moved_back(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    states = apply_all(provider, res)
    ui_save(fake_grafana, "ecp-acme-slo", lambda d: None, keep_folder=False)   # no folderUid
    assert fake_grafana.dashboards["ecp-acme-slo"]["folder_uid"] == ""
    addr = "tenant.acme.grafana.dashboard.ecp-acme-slo"
    live = provider.read(ReadRequest(desired=res, prior=list(states.values()))).live
    assert live[addr].observed["folder_uid"] == ""
    d = next(r for r in res if r.address == addr)
    provider.apply(ApplyRequest(desired=d, prior=states[addr], live=None))
    assert fake_grafana.dashboards["ecp-acme-slo"]["folder_uid"] == "ecp-ai-acme"


def test_deleted_in_grafana_reads_as_absent(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    states = apply_all(provider, res)
    del fake_grafana.dashboards["ecp-acme-overview"]
    live = provider.read(ReadRequest(desired=res, prior=list(states.values()))).live
    assert "tenant.acme.grafana.dashboard.ecp-acme-overview" not in live
    # applying again recreates it (the recorded version is gone with it)
    d = next(r for r in res if r.name == "ecp-acme-overview")
    state = provider.apply(ApplyRequest(desired=d, prior=states[d.address], live=None)).state
    assert state.private["version"] == 1


def test_untagged_dashboard_in_state_is_still_read(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    states = apply_all(provider, res)
    ui_save(fake_grafana, "ecp-acme-slo", lambda d: d.update(tags=[]))
    live = provider.read(ReadRequest(desired=res, prior=list(states.values()))).live
    assert live["tenant.acme.grafana.dashboard.ecp-acme-slo"].observed["dashboard"]["tags"] == []


def test_existing_dashboard_outside_state_is_a_clear_conflict(provider, fake_grafana, specs):
    import httpx
    httpx.post(f"{fake_grafana.url}/api/dashboards/db",
               headers={"Authorization": f"Bearer {fake_grafana.token}"},
               json={"dashboard": {"uid": "ecp-acme-slo", "title": "hand made"}})
    res = resources(specs, "grafana")
    apply_all(provider, [r for r in res if r.type == "folder"])
    d = next(r for r in res if r.name == "ecp-acme-slo")
    with pytest.raises(ProviderError, match="already exists in Grafana.*ecpctl import"):
        provider.apply(ApplyRequest(desired=d, prior=None, live=None))
    got = provider.import_resource(ImportRequest(addr=d.addr, id="ecp-acme-slo",
                                                 desired=d)).state
    assert got.attributes["dashboard"]["title"] == "hand made" and got.private["version"] == 1
    state = provider.apply(ApplyRequest(desired=d, prior=got, live=None)).state
    assert state.private["version"] == 2
    assert fake_grafana.dashboards["ecp-acme-slo"]["folder_uid"] == "ecp-ai-acme"


def test_folder_title_change_and_adoption(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    folder = next(r for r in res if r.address == "tenant.acme.grafana.folder.ecp-ai-acme")
    import httpx
    httpx.post(f"{fake_grafana.url}/api/folders", headers={"Authorization": f"Bearer {fake_grafana.token}"},
               json={"uid": "ecp-ai-acme", "title": "old title"})
    state = provider.apply(ApplyRequest(desired=folder, prior=None, live=None)).state
    assert state.observed == {"uid": "ecp-ai-acme", "title": "ECP-AI / acme call center"}
    assert fake_grafana.folders["ecp-ai-acme"]["version"] == 2


def test_delete(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    states = apply_all(provider, res)
    acme = [s for a, s in states.items() if ".acme." in a]
    import httpx
    httpx.post(f"{fake_grafana.url}/api/dashboards/db",
               headers={"Authorization": f"Bearer {fake_grafana.token}"},
               json={"dashboard": {"title": "someone's own"}, "folderUid": "ecp-ai-acme"})
    for s in sorted(acme, key=lambda s: s.type != "dashboard"):
        if s.type == "folder":
            with pytest.raises(ProviderError, match="still holds 1 dashboard.*someone's own"):
                provider.delete(DeleteRequest(prior=s))
        else:
            provider.delete(DeleteRequest(prior=s))
    assert "ecp-ai-acme" in fake_grafana.folders
    uid = next(u for u, d in fake_grafana.dashboards.items() if d["json"]["title"] == "someone's own")
    del fake_grafana.dashboards[uid]
    provider.delete(DeleteRequest(prior=states["tenant.acme.grafana.folder.ecp-ai-acme"]))
    assert set(fake_grafana.folders) == {"ecp-ai-globex"}
    # deleting what is already gone is fine
    provider.delete(DeleteRequest(prior=states["tenant.acme.grafana.dashboard.ecp-acme-slo"]))


def test_errors_are_translated_and_never_show_the_token(fake_grafana, specs, monkeypatch):
    res = resources(specs, "grafana")
    folder = next(r for r in res if r.type == "folder")

    def configured(token):
        monkeypatch.setenv(TOKEN_ENV, token)
        p = GrafanaProvider()
        p.configure(ConfigureRequest(settings={"url": fake_grafana.url, "tokenEnv": TOKEN_ENV},
                                     options={}))
        return p

    bad = configured("glsa_wrong_secret_value")
    with pytest.raises(ProviderError) as info:
        bad.read(ReadRequest(desired=res, prior=[]))
    assert "401" in str(info.value) and TOKEN_ENV in str(info.value)
    assert "providers.grafana.tokenEnv" in str(info.value)
    assert "glsa_wrong_secret_value" not in str(info.value) and not info.value.retryable

    viewer = configured(fake_grafana.viewer_token)
    viewer.read(ReadRequest(desired=res, prior=[]))               # a viewer may read
    with pytest.raises(ProviderError) as info:
        viewer.apply(ApplyRequest(desired=folder, prior=None, live=None))
    assert "403" in str(info.value) and "Editor" in str(info.value)
    assert info.value.address == folder.address

    ok = configured(fake_grafana.token)
    fake_grafana.fail_next(503)
    with pytest.raises(ProviderError) as info:
        ok.read(ReadRequest(desired=res, prior=[]))
    assert info.value.retryable and "503" in str(info.value)
    fake_grafana.stop()
    with pytest.raises(ProviderError) as info:
        ok.apply(ApplyRequest(desired=folder, prior=None, live=None))
    assert info.value.retryable and "cannot reach Grafana" in str(info.value)
    assert "providers.grafana.url" in str(info.value)
    assert fake_grafana.token not in str(info.value)


def test_configure_names_what_is_missing(monkeypatch):
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    resp = GrafanaProvider().configure(ConfigureRequest(settings={}, options={}))
    text = " | ".join(d.summary for d in resp.diagnostics)
    assert "providers.grafana.url is not set" in text
    assert "environment variable GRAFANA_TOKEN (providers.grafana.tokenEnv) is not set" in text


def test_validate_warns_without_a_prometheus_data_source(provider, fake_grafana, specs):
    res = resources(specs, "grafana")
    diags = provider.validate(ValidateRequest(resources=res)).diagnostics
    assert [d.severity.value for d in diags] == ["warning"]
    assert "no Prometheus data source" in diags[0].summary
    import httpx
    httpx.post(f"{fake_grafana.url}/api/datasources",
               headers={"Authorization": f"Bearer {fake_grafana.token}"},
               json={"name": "Prometheus", "type": "prometheus", "url": "http://prom:9090",
                     "access": "proxy"})
    assert provider.validate(ValidateRequest(resources=res)).diagnostics == ()
