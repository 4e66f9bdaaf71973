"""Tenants of one shape share the equal parts of their attributes (ecpctl/expand/sharing.py): what
is planned, rendered and recorded must be exactly what it was with a copy per resource."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from ecpctl.engine import desired_state
from ecpctl.expand.sharing import Shared
from ecpctl.kernel import Address, Resource
from providers.kubernetes.render import render_manifests

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TWIN = "my-ai-service-2"


@pytest.fixture
def fixed_passwords(monkeypatch):
    """Generated passwords that repeat from one expansion to the next (call the fixture's value
    to start again), so two expansions can be compared."""
    made = itertools.count()

    def restart() -> None:
        nonlocal made
        made = itertools.count()

    monkeypatch.setattr("ecpctl.expand.context.secrets.token_urlsafe",
                        lambda n=None: f"password-{next(made)}")
    return restart


def _specs(tmp_path: Path) -> Path:
    """The examples, and a second tenant of my-ai-service's shape."""
    out = tmp_path / "specs"
    shutil.copytree(EXAMPLES, out)
    text = (out / "my-ai-service.yaml").read_text()
    (out / f"{TWIN}.yaml").write_text(text.replace("name: my-ai-service", f"name: {TWIN}"))
    return out


def _texts(resources) -> dict[str, str]:
    return {r.address: json.dumps(r.attributes) for r in resources}


def _resource(tenant: str, name: str, attributes: dict) -> Resource:
    return Resource(addr=Address(tenant, "kubernetes", "v1.ConfigMap", name), attributes=attributes)


def test_expansion_is_the_same_text_with_and_without_sharing(tmp_path, monkeypatch, fixed_passwords):
    specs = _specs(tmp_path)
    shared = desired_state(specs).resources
    fixed_passwords()
    monkeypatch.setattr(Shared, "share", lambda self, resources, tenant: None)
    copied = desired_state(specs).resources
    assert _texts(shared) == _texts(copied)
    assert render_manifests(shared) == render_manifests(copied)


def test_tenants_of_one_shape_share_parts_and_each_reads_its_own(tmp_path):
    by = {r.address: r for r in desired_state(_specs(tmp_path)).resources}
    one = by["tenant.my-ai-service.kubernetes.apps/v1.Deployment.callbot"].attributes
    two = by[f"tenant.{TWIN}.kubernetes.apps/v1.Deployment.callbot"].attributes
    c1 = one["spec"]["template"]["spec"]["containers"][0]
    c2 = two["spec"]["template"]["spec"]["containers"][0]
    assert c1["resources"] is c2["resources"] and c1["readinessProbe"] is c2["readinessProbe"]
    # what holds the tenant's id stays the tenant's own
    assert one["metadata"]["labels"]["ecp.ai/tenant"] == "my-ai-service"
    assert two["metadata"]["labels"]["ecp.ai/tenant"] == TWIN
    assert one["metadata"]["namespace"] != two["metadata"]["namespace"]


def test_a_tenant_renders_the_same_beside_a_tenant_of_its_shape(tmp_path):
    specs = _specs(tmp_path)
    together = render_manifests(r for r in desired_state(specs).resources if r.tenant == TWIN)
    (specs / "my-ai-service.yaml").unlink()
    alone = render_manifests(r for r in desired_state(specs).resources if r.tenant == TWIN)
    assert together == alone


def test_equal_values_of_other_types_or_orders_are_not_merged():
    """`True == 1 == 1.0`, `0.0 == -0.0` and dicts equal in another key order print differently:
    each keeps its own text."""
    values = [{"a": 1, "b": True}, {"a": True, "b": 1}, {"b": True, "a": 1}, {"a": 1.0, "b": 1},
              {"x": [0.0, 1]}, {"x": [-0.0, 1]}, {"x": [1, None]}, {"x": [True, None]},
              {"x": [[], {}]}, {"x": [{}, []]}, {"x": ["1", 1]}, {"x": [1, "1"]}]
    resources = [_resource(f"t{i}", "cm", {"data": v}) for i, v in enumerate(values)]
    before = _texts(resources)
    table = Shared()
    table.share(resources, "t")
    table.share(resources, "t")     # shared again: nothing moves
    assert _texts(resources) == before
    assert resources[0].attributes["data"] is not resources[1].attributes["data"]
    kinds = [[type(x) for x in r.attributes["data"].get("x", r.attributes["data"].values())]
             for r in resources]
    assert kinds == [[type(x) for x in v.get("x", v.values())] for v in values]


def test_parts_holding_the_tenant_id_are_not_shared():
    a = _resource("acme", "cm", {"data": {"owner": "acme-team", "size": "1Gi"}})
    b = _resource("bolt", "cm", {"data": {"owner": "acme-team", "size": "1Gi"}})
    table = Shared()
    table.share([a], "acme")
    table.share([b], "bolt")
    assert a.attributes["data"] is not b.attributes["data"]
    assert a.attributes["data"]["size"] is b.attributes["data"]["size"]
    assert a.attributes == b.attributes


def test_resources_without_meta_share_one_that_cannot_change(tmp_path):
    resources = desired_state(_specs(tmp_path)).resources
    assert all(dict(r.meta) == {} for r in resources)
    with pytest.raises(TypeError):
        resources[0].meta["note"] = "x"     # type: ignore[index]
    assert "note" not in resources[1].meta


def test_applying_tenants_of_one_shape_then_changing_one_leaves_the_other(ecpctl, spec_dir):
    """Apply stamps owner marks and records state from the desired attributes: had it changed a
    shared part in place, the twin tenant would plan changes, or change with its twin."""
    acme = spec_dir / "acme.yaml"
    (spec_dir / "bolt.yaml").write_text(acme.read_text().replace("name: acme", "name: bolt"))
    r = ecpctl("apply", str(spec_dir), "--auto-approve")
    assert r.exit_code == 0, r.output
    r = ecpctl("plan", str(spec_dir), "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output

    acme.write_text(acme.read_text().replace("chatbot: 20", "chatbot: 45"))
    r = ecpctl("plan", str(spec_dir), "--json")
    assert r.exit_code == 0, r.output
    changed = {c["address"] for c in json.loads(r.output)["resource_changes"]
               if c["actions"] != ["no-op"]}
    assert changed and all(a.startswith("tenant.acme.") for a in changed), changed
