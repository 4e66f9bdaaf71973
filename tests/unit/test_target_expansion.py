"""`--target` naming its tenants expands only those tenants (the others' files are still read and
validated), and the plan is the same as the one made from every tenant: the targeted tenant's
changes, nothing of the others, and a scope that reaches beyond the expanded tenants (a recorded
dependency on another tenant) is planned again with every tenant rather than taken as removed."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from ecpctl.kernel import tenants_named

ACME_NS = "tenant.acme.kubernetes.v1.Namespace.ecp-ai-acme"


@pytest.mark.parametrize("patterns, tenants", [
    (("acme",), {"acme"}),
    (("acme", "globex"), {"acme", "globex"}),
    (("tenant.acme",), {"acme"}),
    (("tenant.acme.kubernetes.*",), {"acme"}),
    (("tenant.acme.postgres.role.acme_app",), {"acme"}),
    (("_project",), {"_project"}),
    (("tenant.ac*",), None),                 # the glob may reach other tenants
    (("tenant.*.postgres.*",), None),
    (("*Namespace*",), None),
    (("acme", "tenant.a?me"), None),
    (("tenant",), None),                     # the prefix of every address
    (("tenant.",), None),
    (("glob*",), None),
])
def test_the_tenants_a_target_names(patterns, tenants):
    found = tenants_named(patterns)
    assert (None if found is None else set(found)) == tenants


def _changes(result) -> dict[str, list[str]]:
    doc = json.loads(result.stdout)
    return {c["address"]: c["actions"] for c in doc["resource_changes"]}


def _grow(spec_dir, tenant: str) -> None:
    """More chatbot sessions: more replicas, a bigger quota."""
    f = spec_dir / f"{tenant}.yaml"
    text, n = re.subn(r"chatbot: \d+", "chatbot: 60", f.read_text())
    assert n == 1
    f.write_text(text)


def test_a_targeted_plan_is_the_targeted_part_of_the_full_plan(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    _grow(spec_dir, "acme")
    _grow(spec_dir, "globex")
    full = ecpctl("plan", str(spec_dir), "--json")
    targeted = ecpctl("plan", str(spec_dir), "--target", "globex", "--json")
    assert full.exit_code == 0 and targeted.exit_code == 0, targeted.output
    everything = _changes(full)
    expected = {a: act for a, act in everything.items() if a.startswith("tenant.globex.")}
    assert any(act != ["no-op"] for act in expected.values())
    assert any(a.startswith("tenant.acme.") and act != ["no-op"] for a, act in everything.items())
    assert _changes(targeted) == expected


def test_a_bad_file_of_another_tenant_still_fails_a_targeted_plan(ecpctl, spec_dir):
    f = spec_dir / "acme.yaml"
    f.write_text(f.read_text().replace("spec:", "spec:\n  bogusField: 1", 1))
    r = ecpctl("plan", str(spec_dir), "--target", "globex")
    assert r.exit_code == 1
    assert "acme.yaml" in r.output and "bogusField" in r.output


def test_a_dependency_on_another_tenant_plans_with_every_tenant(ecpctl, spec_dir):
    """A globex record that depends on acme's namespace pulls acme's namespace into the scope of
    `--target globex`; planned from globex alone, acme's namespace would look removed."""
    from state.store import StateStore

    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    store = StateStore.open(None, data_dir=ecpctl.data_dir)
    try:
        snap = store.snapshot("default")
        addr = next(a for a in snap.resources if a.startswith("tenant.globex.kubernetes."))
        rs = snap.resources[addr]
        store.put_resource("default", dataclasses.replace(
            rs, depends_on=tuple(rs.depends_on) + (ACME_NS,)))
    finally:
        store.close()
    r = ecpctl("plan", str(spec_dir), "--target", "globex", "--json")
    assert r.exit_code == 0, r.output
    changes = _changes(r)
    assert changes[ACME_NS] == ["no-op"]
    assert all(act == ["no-op"] for act in changes.values()), changes


def test_the_state_of_some_tenants_is_read_alone_with_the_whole_registry(ecpctl, spec_dir):
    from state.store import StateStore

    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    store = StateStore.open(None, data_dir=ecpctl.data_dir)
    try:
        whole = store.snapshot("default")
        part = store.snapshot("default", tenants=frozenset({"globex"}))
    finally:
        store.close()
    assert whole.covers is None and part.covers == {"globex"}
    assert set(part.resources) == {a for a in whole.resources if a.startswith("tenant.globex.")}
    assert part.resources and set(part.tenants) == set(whole.tenants) == {"acme", "globex"}
    assert (part.lineage, part.serial) == (whole.lineage, whole.serial)


def test_a_replace_of_another_tenant_with_a_target_still_finds_it_in_state(ecpctl, spec_dir):
    assert ecpctl("apply", str(spec_dir), "--auto-approve").exit_code == 0
    r = ecpctl("plan", str(spec_dir), "--target", "globex", "--replace",
               "tenant.acme.postgres.role.acme_app", "--json")
    assert r.exit_code == 0, r.output
    assert all(a.startswith("tenant.globex.") for a in _changes(r))
    r = ecpctl("plan", str(spec_dir), "--target", "globex", "--replace",
               "tenant.acme.postgres.role.nobody")
    assert r.exit_code == 1 and "no such resource in state" in r.output
