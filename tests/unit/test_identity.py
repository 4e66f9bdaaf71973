"""One typed identity (Address) in every record, serialized under the keys it always had; one
attribute-path syntax (`a.b[0].c`) everywhere."""

from __future__ import annotations

import json

import pytest

from ecpctl.kernel import Address, Resource, ResourceState, get_path
from ecpctl.kernel.paths import dotted, is_sensitive, parse_path, redact
from ecpctl.plan import Action, Plan, ResourceChange
from ecpctl.planfile import read_plan, write_plan
from providers.protocol import ImportRequest, LiveObject, ReadRequest

DEP = Address("acme", "kubernetes", "apps/v1.Deployment", "callbot")
KEYS = ["address", "provider", "type", "name", "tenant"]


def test_address_text_parts_and_parse():
    assert DEP.text == str(DEP) == "tenant.acme.kubernetes.apps/v1.Deployment.callbot"
    assert Address.parse(DEP.text) == DEP and hash(Address.parse(DEP.text)) == hash(DEP)
    for bad in ("tenant.acme.a", "acme.kubernetes.v1.Secret.db", "tenant..kubernetes.v1.Secret.db"):
        with pytest.raises(ValueError, match="is not a resource address"):
            Address.parse(bad)


def test_every_record_holds_one_identity_and_reads_its_parts():
    r = Resource(DEP, {"a": 1})
    s = r.recorded({"a": 1})
    c = ResourceChange(addr=DEP, action=Action.NOOP, before=None, after=None)
    lv = LiveObject(DEP, {"a": 1})
    imp = ImportRequest(DEP, id="ns/callbot")
    for rec in (r, s, c, lv, imp):
        assert rec.addr is DEP
        assert [rec.address, rec.provider, rec.type, rec.name, rec.tenant] == [
            DEP.text, "kubernetes", "apps/v1.Deployment", "callbot", "acme"]
    assert ReadRequest(desired=[r], prior=[s]).addresses() == {DEP.text: DEP}


def test_state_rows_keep_their_keys_and_round_trip():
    s = ResourceState(DEP, {"a": 1}, {"b": 2}, sensitive=("data.password",),
                      depends_on=("tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme",),
                      private={"uid": "u"})
    d = s.to_dict()
    assert list(d)[:5] == KEYS and [d[k] for k in KEYS] == [DEP.text, "kubernetes",
                                                            "apps/v1.Deployment", "callbot", "acme"]
    assert ResourceState.from_dict(json.loads(json.dumps(d))) == s


def test_a_name_with_dots_survives_because_records_keep_their_parts():
    a = Address("acme", "grafana", "dashboard", "ecp.acme.slo")
    s = ResourceState(a, {}, {})
    assert ResourceState.from_dict(s.to_dict()).addr == a


def test_a_record_moved_by_an_older_state_mv_is_keyed_by_its_address():
    # older `state mv` rewrote `address` alone; the row is found under that address
    d = ResourceState(DEP, {}, {}).to_dict() | {"address": "tenant.acme.kubernetes.apps/v1.Deployment.bot2"}
    assert ResourceState.from_dict(d).addr == Address("acme", "kubernetes", "apps/v1.Deployment", "bot2")


def test_saved_plans_round_trip_with_identity(tmp_path):
    r = Resource(DEP, {"spec": {"replicas": 2}}, sensitive=("spec",))
    prior = r.recorded({"spec": {"replicas": 1}})
    c = ResourceChange(addr=DEP, action=Action.UPDATE, before={"x": 1}, after={"x": 2},
                       reason="configuration changed", desired=r, prior=prior)
    plan = Plan(changes=(c,), workspace="default", lineage="l", serial=3, config_digest="d")
    path = tmp_path / "p.plan"
    write_plan(plan, path)
    doc = json.loads(path.read_text())
    assert [doc["changes"][0][k] for k in KEYS] == [DEP.text, "kubernetes", "apps/v1.Deployment",
                                                    "callbot", "acme"]
    back = read_plan(path).changes[0]
    assert back.addr == DEP and back.desired == r and back.prior == prior


@pytest.mark.parametrize("text,parts", [
    ("data.password", ("data", "password")),
    ("spec.template.spec.containers[0].image", ("spec", "template", "spec", "containers", 0, "image")),
    ('metadata.labels["ecp.ai/tenant"]', ("metadata", "labels", "ecp.ai/tenant")),
    ("webhook_configs[1].url", ("webhook_configs", 1, "url")),
])
def test_one_path_syntax_round_trips(text, parts):
    assert parse_path(text) == parts and dotted(parts) == text


@pytest.mark.parametrize("bad", ["", ".a", "a..b", "a[x]", "a.", "a.0.b[", 'a["x]'])
def test_malformed_paths_are_refused(bad):
    with pytest.raises(ValueError):
        parse_path(bad)


def test_get_path_sensitive_matching_and_redaction_agree_on_the_syntax():
    data = {"spec": {"containers": [{"image": "a"}, {"image": "b"}]},
            "metadata": {"labels": {"ecp.ai/tenant": "acme"}}}
    assert get_path(data, "spec.containers[1].image") == "b"
    assert get_path(data, 'metadata.labels["ecp.ai/tenant"]') == "acme"
    assert get_path(data, "spec.containers[2].image") is None
    assert get_path(data, "spec.containers.1.image") is None      # the other syntax is gone
    assert is_sensitive(("spec", "containers", 1, "image"), ["spec.containers[1]"])
    assert redact(data, ["spec.containers[0]"])["spec"]["containers"] == ["(sensitive value)",
                                                                          {"image": "b"}]
