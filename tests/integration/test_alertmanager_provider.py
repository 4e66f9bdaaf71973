"""The alertmanager provider (file mode) against a real Alertmanager 0.25 and amtool."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ecpctl.kernel import Address, ProviderError, Resource
from providers.alertmanager import AlertmanagerProvider
from providers.alertmanager.provider import BACKUP_SUFFIX
from providers.protocol import (
    ApplyRequest,
    ConfigureRequest,
    DeleteRequest,
    ReadRequest,
    ResourceState,
)
from tests.integration.monitoring_support import resources, write_specs

pytestmark = pytest.mark.integration


def make_provider(am, amtool: str) -> AlertmanagerProvider:
    p = AlertmanagerProvider()
    resp = p.configure(ConfigureRequest(settings={"configFile": str(am.config_file),
                                                  "url": am.url, "amtool": amtool}, options={}))
    assert not resp.diagnostics, resp.diagnostics
    return p


def apply_in_order(p, res) -> dict[str, ResourceState]:
    states = {}
    for r in sorted(res, key=lambda r: (r.type != "receiver", r.address)):
        states[r.address] = p.apply(ApplyRequest(desired=r, prior=None, live=None)).state
    return states


def routes_test(amtool: str, config_file, **labels) -> list[str]:
    out = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config_file}",
                          *(f"{k}={v}" for k, v in labels.items())],
                         capture_output=True, text=True, timeout=30)
    return sorted(out.stdout.strip().split(","))


@pytest.fixture
def specs(tmp_path, alertmanager, amtool, webhook_sink):
    return write_specs(tmp_path / "specs", sink=webhook_sink.base,
                       config_file=alertmanager.config_file, am_url=alertmanager.url,
                       amtool=amtool, dashboards="configmap")


def test_two_tenants_route_to_their_own_receivers_only(alertmanager, amtool, webhook_sink, specs):
    p = make_provider(alertmanager, amtool)
    apply_in_order(p, resources(specs, "alertmanager"))
    text = alertmanager.config_file.read_text()
    # the operator's file is still theirs: comments and their route and receivers kept
    assert text.startswith("# The operator's Alertmanager config")
    assert "# everything that no tenant route takes" in text
    assert "operator-oncall" in text
    # the running config is the merged file
    running = alertmanager.running_config()
    assert "acme/ops" in running and "globex/oncall" in running

    # amtool's own routing tree says where each alert would go
    assert routes_test(amtool, alertmanager.config_file, tenant_id="acme",
                       alertname="ErrorBudgetBurn") == ["acme/ops"]
    assert routes_test(amtool, alertmanager.config_file, tenant_id="acme",
                       alertname="high_cpu_usage") == ["acme/oncall", "acme/ops"]
    assert routes_test(amtool, alertmanager.config_file, tenant_id="globex",
                       alertname="high_cpu_usage") == ["globex/oncall", "globex/ops"]
    assert routes_test(amtool, alertmanager.config_file, team="platform") == ["operator-oncall"]
    assert routes_test(amtool, alertmanager.config_file, tenant_id="acme",
                       team="platform") == ["acme/ops"]

    # and real notifications arrive at the tenant's webhooks, never at another tenant's
    alertmanager.post_alert({"alertname": "high_cpu_usage", "tenant_id": "acme",
                             "severity": "warning"})
    alertmanager.post_alert({"alertname": "ErrorBudgetBurn", "tenant_id": "globex",
                             "severity": "critical"})
    got_ops = webhook_sink.wait_for("acme/ops")
    got_oncall = webhook_sink.wait_for("acme/oncall")
    got_globex = webhook_sink.wait_for("globex/ops")
    assert got_ops and got_oncall and got_globex
    time.sleep(2.5)          # well past group_wait/group_interval: nothing else arrives
    for payload in webhook_sink.received("acme/ops") + webhook_sink.received("acme/oncall"):
        assert {a["labels"]["tenant_id"] for a in payload["alerts"]} == {"acme"}
        assert payload["receiver"].startswith("acme/")
    for payload in webhook_sink.received("globex/ops"):
        assert {a["labels"]["tenant_id"] for a in payload["alerts"]} == {"globex"}
    assert webhook_sink.received("globex/oncall") == []   # ErrorBudgetBurn: default receiver only
    paths = {b["receiver"] for b in webhook_sink.received()}
    assert paths == {"acme/ops", "acme/oncall", "globex/ops"}


def test_read_is_one_file_read_and_matches_what_apply_recorded(alertmanager, amtool, specs):
    p = make_provider(alertmanager, amtool)
    res = resources(specs, "alertmanager")
    states = apply_in_order(p, res)
    resp = p.read(ReadRequest(desired=res, prior=list(states.values())))
    assert resp.requests == {"file_read": 1}
    assert set(resp.live) == {r.address for r in res}
    for addr, st in states.items():
        assert dict(resp.live[addr].observed) == dict(st.observed)
    route = resp.live["tenant.acme.alertmanager.route.acme"].observed
    assert route["placed_first"] is True and route["matchers"] == ['tenant_id="acme"']


def test_tenant_routes_come_first_sorted(alertmanager, amtool, specs):
    p = make_provider(alertmanager, amtool)
    apply_in_order(p, resources(specs, "alertmanager"))
    running = alertmanager.status()["config"]["original"]
    from ruamel.yaml import YAML
    cfg = YAML(typ="safe").load(running)
    routes = cfg["route"]["routes"]
    assert [r["receiver"] for r in routes] == ["acme/ops", "globex/ops", "operator-oncall"]
    assert routes[0]["matchers"] == ['tenant_id="acme"'] and routes[0]["continue"] is False


def test_parallel_applies_share_reloads(alertmanager, amtool, tmp_path, webhook_sink):
    names = [f"t{i:02d}" for i in range(12)]
    specs = write_specs(tmp_path / "many", tenants=names, sink=webhook_sink.base,
                        config_file=alertmanager.config_file, am_url=alertmanager.url,
                        amtool=amtool, dashboards="configmap")
    res = resources(specs, "alertmanager")
    receivers = [r for r in res if r.type == "receiver"]
    p = make_provider(alertmanager, amtool)
    with ThreadPoolExecutor(max_workers=10) as pool:
        states = list(pool.map(lambda r: p.apply(ApplyRequest(desired=r, prior=None, live=None)),
                               receivers))
    assert all(s.state is not None for s in states)
    assert p.transactions < len(receivers)            # group commit merged concurrent changes
    text = alertmanager.config_file.read_text()
    for r in receivers:
        assert f"name: {r.attributes['name']}" in text
    running = alertmanager.running_config()
    assert all(r.attributes["name"] in running for r in receivers)


def test_invalid_config_is_refused_before_writing(alertmanager, amtool, specs):
    p = make_provider(alertmanager, amtool)
    before = alertmanager.config_file.read_text()
    bad = Resource(addr=Address("acme", "alertmanager", "receiver", "bad"),
                   attributes={"name": "acme/bad", "webhook_configs": [{"url": "not a url"}]})
    with pytest.raises(ProviderError) as info:
        p.apply(ApplyRequest(desired=bad, prior=None, live=None))
    assert "amtool check-config rejects the merged config: " in info.value.reason
    assert "unsupported scheme" in info.value.reason          # amtool's own words
    assert info.value.address == bad.address and not info.value.retryable
    assert alertmanager.config_file.read_text() == before
    assert p.transactions == 0


def test_reload_refused_restores_the_previous_file(alertmanager, amtool, specs, tmp_path):
    """amtool is not the judge here (a stand-in that accepts anything), Alertmanager is."""
    p = make_provider(alertmanager, amtool)
    apply_in_order(p, resources(specs, "alertmanager"))
    good = alertmanager.config_file.read_text()
    running_before = alertmanager.running_config()
    yes = tmp_path / "amtool-accepts-all"
    yes.write_text("#!/bin/sh\nexit 0\n")
    yes.chmod(yes.stat().st_mode | stat.S_IXUSR)
    lenient = make_provider(alertmanager, str(yes))
    bad = Resource(addr=Address("acme", "alertmanager", "receiver", "bad"),
                   attributes={"name": "acme/bad", "webhook_configs": [{"url": "not a url"}]})
    with pytest.raises(ProviderError) as info:
        lenient.apply(ApplyRequest(desired=bad, prior=None, live=None))
    msg = info.value.reason
    assert "Alertmanager refused the new config on reload" in msg
    assert "previous file was restored and reloaded" in msg
    assert alertmanager.config_file.read_text() == good
    assert alertmanager.running_config() == running_before
    # the backup holds the last good file too
    backup = alertmanager.config_file.with_name(alertmanager.config_file.name + BACKUP_SUFFIX)
    assert backup.read_text() == good


def test_unreachable_alertmanager_restores_the_file(alertmanager, amtool, specs):
    p = make_provider(alertmanager, amtool)
    before = alertmanager.config_file.read_text()
    alertmanager.stop()
    route = next(r for r in resources(specs, "alertmanager") if r.type == "receiver")
    with pytest.raises(ProviderError) as info:
        p.apply(ApplyRequest(desired=route, prior=None, live=None))
    assert info.value.retryable
    assert "cannot reach Alertmanager" in info.value.reason
    assert "restored" in info.value.reason
    assert alertmanager.config_file.read_text() == before


def test_alertmanager_loading_another_file_is_detected(alertmanager, amtool, specs, tmp_path):
    other = tmp_path / "not-the-loaded-file.yml"
    other.write_text(alertmanager.config_file.read_text())
    p = AlertmanagerProvider()
    p.configure(ConfigureRequest(settings={"configFile": str(other), "url": alertmanager.url,
                                           "amtool": amtool}, options={}))
    before = other.read_text()
    recv = next(r for r in resources(specs, "alertmanager") if r.type == "receiver")
    with pytest.raises(ProviderError, match="did not load"):
        p.apply(ApplyRequest(desired=recv, prior=None, live=None))
    assert other.read_text() == before


def test_hand_edits_show_as_drift(alertmanager, amtool, specs):
    p = make_provider(alertmanager, amtool)
    res = resources(specs, "alertmanager")
    states = apply_in_order(p, res)
    text = alertmanager.config_file.read_text()
    text = text.replace("/acme/ops", "/acme/hijacked", 1)
    text = text.replace("- tenant_id=\"globex\"", "- tenant_id=\"globex\"\n        - env=\"prod\"", 1)
    alertmanager.config_file.write_text(text)
    live = p.read(ReadRequest(desired=res, prior=list(states.values()))).live
    drifted = {a for a in states if dict(live[a].observed) != dict(states[a].observed)}
    assert drifted == {"tenant.acme.alertmanager.receiver.ops",
                       "tenant.globex.alertmanager.route.globex"}
    assert live["tenant.acme.alertmanager.receiver.ops"].observed["webhook_configs"][0]["url"] \
        .endswith("/acme/hijacked")
    assert live["tenant.globex.alertmanager.route.globex"].observed["matchers"] == [
        'tenant_id="globex"', 'env="prod"']
    # a cosmetic rewrite of a matcher is not drift
    text = alertmanager.config_file.read_text().replace('- tenant_id="acme"', "- tenant_id = acme")
    alertmanager.config_file.write_text(text)
    live = p.read(ReadRequest(desired=res, prior=list(states.values()))).live
    acme_route = "tenant.acme.alertmanager.route.acme"
    assert dict(live[acme_route].observed) == dict(states[acme_route].observed)
    # an operator route put before the tenant routes is drift too: it could take their alerts
    text = alertmanager.config_file.read_text().replace(
        "  routes:\n", "  routes:\n    - receiver: operator-default\n      matchers: ['x=\"y\"']\n", 1)
    alertmanager.config_file.write_text(text)
    live = p.read(ReadRequest(desired=res, prior=list(states.values()))).live
    assert live[acme_route].observed["placed_first"] is False
    # applying puts it back first and undoes the edit
    acme = next(r for r in res if r.address == acme_route)
    p.apply(ApplyRequest(desired=acme, prior=states[acme_route], live=None))
    live = p.read(ReadRequest(desired=res, prior=list(states.values()))).live
    assert dict(live[acme_route].observed) == dict(states[acme_route].observed)


def test_delete_removes_only_the_tenants_part(alertmanager, amtool, specs):
    p = make_provider(alertmanager, amtool)
    res = resources(specs, "alertmanager")
    states = apply_in_order(p, res)
    acme = [s for a, s in states.items() if ".acme." in a]
    # a receiver still used by the tenant's route waits (retryable) until the route is gone
    recv = next(s for s in acme if s.type == "receiver" and s.name == "ops")
    with pytest.raises(ProviderError) as info:
        p.delete(DeleteRequest(prior=recv))
    assert info.value.retryable and "still used by route.routes[0]" in info.value.reason
    for s in sorted(acme, key=lambda s: s.type != "route"):
        p.delete(DeleteRequest(prior=s))
    text = alertmanager.config_file.read_text()
    assert "acme/" not in text and 'tenant_id="acme"' not in text
    assert "globex/ops" in text and "operator-oncall" in text
    assert "acme/" not in alertmanager.running_config()
    live = p.read(ReadRequest(desired=[], prior=list(states.values()))).live
    assert not [a for a in live if ".acme." in a]


def test_file_keeps_its_mode(alertmanager, amtool, specs):
    os.chmod(alertmanager.config_file, 0o640)
    p = make_provider(alertmanager, amtool)
    apply_in_order(p, resources(specs, "alertmanager"))
    assert stat.S_IMODE(alertmanager.config_file.stat().st_mode) == 0o640
    leftovers = [f for f in alertmanager.config_file.parent.iterdir() if f.name.endswith(".tmp")
                 or f.name.endswith(".check.yml")]
    assert leftovers == []


def test_configure_names_the_missing_setting(tmp_path):
    p = AlertmanagerProvider()
    resp = p.configure(ConfigureRequest(settings={"amtool": "amtool"}, options={}))
    text = " | ".join(d.summary for d in resp.diagnostics)
    assert "providers.alertmanager.configFile is not set" in text
    assert "providers.alertmanager.url is not set" in text
    resp = p.configure(ConfigureRequest(settings={"configFile": str(tmp_path / "nope.yml"),
                                                  "url": "http://127.0.0.1:9",
                                                  "amtool": "amtool"}, options={}))
    assert "does not exist" in resp.diagnostics[0].summary
    resp = p.configure(ConfigureRequest(settings={"configFile": "x", "url": "http://x",
                                                  "amtool": "/no/such/amtool"}, options={}))
    assert any("providers.alertmanager.amtool" in d.summary for d in resp.diagnostics)
