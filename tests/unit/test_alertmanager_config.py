"""ecpctl's part of the operator's alertmanager.yml (providers/alertmanager/config.py), offline."""

from __future__ import annotations

import pytest

from providers.alertmanager import config as amc

BASE = """\
# operator's notes
global:
  resolve_timeout: 5m   # keep
route:
  receiver: default
  routes:
    - receiver: pager
      match: {team: sre}
receivers:
  - name: default
  - name: pager
    webhook_configs:
      - url: "http://pager.example/hook"   # the pager
"""


def route(tenant: str, receiver: str = "ops") -> dict:
    return {"receiver": f"{tenant}/{receiver}", "matchers": [f'tenant_id="{tenant}"'],
            "continue": False}


def test_operator_content_round_trips_unchanged():
    assert amc.dump(amc.load(BASE)) == BASE


def test_flow_style_keeps_its_meaning():
    """ruamel writes a one-key mapping inside a flow list without braces: same data, valid YAML."""
    text = "receivers:\n  - name: p\n    webhook_configs: [{url: \"http://h\"}]\n"
    again = amc.load(amc.dump(amc.load(text)))
    assert amc.plain(again) == {"receivers": [{"name": "p",
                                               "webhook_configs": [{"url": "http://h"}]}]}


def test_tenant_routes_go_first_sorted_and_keep_the_operators():
    doc = amc.load(BASE)
    for t in ("globex", "acme", "initech"):
        amc.set_receiver(doc, {"name": f"{t}/ops", "webhook_configs": [{"url": f"http://{t}"}]})
        amc.set_route(doc, t, route(t))
    routes = doc["route"]["routes"]
    assert [r["receiver"] for r in routes] == ["acme/ops", "globex/ops", "initech/ops", "pager"]
    text = amc.dump(doc)
    assert text.startswith("# operator's notes\n") and "resolve_timeout: 5m   # keep" in text
    assert [r["name"] for r in doc["receivers"]] == ["default", "pager", "globex/ops", "acme/ops",
                                                     "initech/ops"]
    # replacing a route keeps one per tenant, in place
    amc.set_route(doc, "globex", {**route("globex"), "group_by": ["alertname"]})
    assert [r["receiver"] for r in doc["route"]["routes"]].count("globex/ops") == 1
    assert amc.observed_route(doc, "globex")["group_by"] == ["alertname"]


def test_observed_route_and_placement():
    doc = amc.load(BASE)
    amc.set_route(doc, "acme", route("acme"))
    obs = amc.observed_route(doc, "acme")
    assert obs == {**route("acme"), "placed_first": True}
    assert obs == amc.planned_route(route("acme"))
    # an operator route moved in front of it
    doc["route"]["routes"].insert(0, {"receiver": "pager", "matchers": ['x="y"']})
    assert amc.observed_route(doc, "acme")["placed_first"] is False
    amc.set_route(doc, "acme", route("acme"))
    assert doc["route"]["routes"][0]["receiver"] == "acme/ops"


@pytest.mark.parametrize("written", ['tenant_id="acme"', "tenant_id=acme", 'tenant_id = "acme"',
                                     "tenant_id =acme"])
def test_matchers_are_compared_in_canonical_form(written):
    doc = amc.load(BASE.replace("  routes:\n", f"  routes:\n    - receiver: acme/ops\n"
                                               f"      matchers: ['{written}']\n"
                                               f"      continue: false\n"))
    assert amc.observed_route(doc, "acme")["matchers"] == ['tenant_id="acme"']


def test_legacy_match_is_recognized():
    doc = amc.load(BASE.replace("  routes:\n", "  routes:\n    - receiver: acme/ops\n"
                                               "      match: {tenant_id: acme}\n"))
    assert amc.find_route(doc, "acme") is not None
    assert amc.route_matchers(doc["route"]["routes"][1]) == ['team="sre"']


def test_remove_and_references():
    doc = amc.load(BASE)
    amc.set_receiver(doc, {"name": "acme/ops"})
    amc.set_route(doc, "acme", {**route("acme"), "routes": [
        {"receiver": "acme/ops", "matchers": ['alertname="x"'], "continue": True}]})
    assert amc.routes_using(doc, "acme/ops") == ["route.routes[0]", "route.routes[0].routes[0]"]
    assert amc.remove_route(doc, "acme") and not amc.remove_route(doc, "acme")
    assert amc.routes_using(doc, "acme/ops") == []
    assert amc.remove_receiver(doc, "acme/ops") and amc.find_receiver(doc, "acme/ops") is None
    assert amc.dump(doc) == BASE


def test_skeleton_ignores_defaults_and_secrets():
    mine = amc.load(BASE)
    amc.set_receiver(mine, {"name": "acme/ops", "slack_configs": [{"api_url": "https://secret",
                                                                  "channel": "#x"}]})
    amc.set_route(mine, "acme", route("acme"))
    # what /api/v2/status gives back: defaults filled in, secrets masked, match kept
    running = {
        "global": {"resolve_timeout": "5m", "smtp_hello": "localhost"},
        "route": {"receiver": "default", "continue": False, "routes": [
            {"receiver": "acme/ops", "matchers": ['tenant_id="acme"'], "continue": False},
            {"receiver": "pager", "match": {"team": "sre"}, "continue": False}]},
        "receivers": [{"name": "default"},
                      {"name": "pager", "webhook_configs": [{"url": "http://pager.example/hook",
                                                             "send_resolved": True}]},
                      {"name": "acme/ops", "slack_configs": [{"api_url": "<secret>",
                                                              "channel": "#x"}]}]}
    assert amc.skeleton(amc.plain(mine)) == amc.skeleton(running)
    running["route"]["routes"].pop(0)
    assert amc.skeleton(amc.plain(mine)) != amc.skeleton(running)


@pytest.mark.parametrize("text, message", [
    ("route: [1]\n", "`route` must be a mapping"),
    ("- a\n", "top level must be a mapping"),
    ("receivers: {a: 1}\n", "`receivers` must be a list"),
    ("route: {receiver: x\n", "not valid YAML"),
])
def test_files_ecpctl_cannot_edit(text, message):
    with pytest.raises(amc.ConfigFileError, match=message):
        amc.load(text)
