"""`--target` on a live fleet (real control plane, real Postgres): a plan and an apply of one tenant
expand and read only that tenant, change only that tenant's objects, and leave every other
tenant's objects exactly as they were. Judged with kubectl and the Postgres catalogs, then by the
full plan."""

from __future__ import annotations

import json

import pytest

from tests.bench.generate import write_light_tenant
from tests.integration.faults_support import fleet_factory  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

TENANTS = ["tgs-a", "tgs-b", "tgs-c"]


def _changes(result) -> dict[str, list[str]]:
    doc = json.loads(result.stdout)
    return {c["address"]: c["actions"] for c in doc["resource_changes"]}


def _replicas(cp, tenant: str) -> int:
    obj = cp.kubectl_json("get", "deployment", "chatbot", "-n", f"ecp-ai-{tenant}")
    return obj["spec"]["replicas"]


def _databases(pg) -> set[str]:
    with pg.connect() as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_a_targeted_plan_and_apply_touch_that_tenant_alone(control_plane, postgres_server,
                                                           fleet_factory):
    fleet = fleet_factory(control_plane, postgres_server.admin_dsn, TENANTS, name="scoped")
    fleet.ok("apply", str(fleet.spec), "--auto-approve", "--no-wait")
    dbs = {a.split(".")[1]: attrs["name"] for a, attrs in fleet.state_attributes().items()
           if ".postgres.database." in a}
    assert set(dbs) == set(TENANTS) and set(dbs.values()) <= _databases(postgres_server)
    before = {t: _replicas(control_plane, t) for t in TENANTS}

    # two tenants grow; the plan of one of them is about that one alone
    for t in ("tgs-b", "tgs-c"):
        write_light_tenant(fleet.spec, t, chatbot=150)
    planned = _changes(fleet.ok("plan", str(fleet.spec), "--target", "tgs-b", "--json"))
    changed = {a for a, act in planned.items() if act != ["no-op"]}
    assert changed and all(a.startswith("tenant.tgs-b.") for a in planned), planned
    assert not any("delete" in act for act in planned.values()), planned

    fleet.ok("apply", str(fleet.spec), "--target", "tgs-b", "--auto-approve", "--no-wait")
    after = {t: _replicas(control_plane, t) for t in TENANTS}
    assert after["tgs-b"] > before["tgs-b"]
    assert after["tgs-a"] == before["tgs-a"] and after["tgs-c"] == before["tgs-c"]
    for t in TENANTS:       # every tenant's namespace and database are still there
        control_plane.kubectl("get", "namespace", f"ecp-ai-{t}")
    assert set(dbs.values()) <= _databases(postgres_server)

    # what is left for the full plan is exactly tgs-c's growth
    pending = {a for a, act in _changes(fleet.ok("plan", str(fleet.spec), "--json")).items()
               if act != ["no-op"]}
    assert pending and all(a.startswith("tenant.tgs-c.") for a in pending), pending

    # a targeted destroy removes that tenant and nothing of the others
    fleet.ok("destroy", str(fleet.spec), "--target", "tgs-a", "--auto-approve", "--no-wait")
    assert dbs["tgs-a"] not in _databases(postgres_server)
    assert {dbs["tgs-b"], dbs["tgs-c"]} <= _databases(postgres_server)
    gone = control_plane.kubectl("get", "namespace", "ecp-ai-tgs-a", "-o",
                                 "jsonpath={.status.phase}", check=False)
    assert gone.returncode != 0 or gone.stdout == "Terminating"
    for t in ("tgs-b", "tgs-c"):
        control_plane.kubectl("get", "deployment", "chatbot", "-n", f"ecp-ai-{t}")
    assert not any(a.startswith("tenant.tgs-a.") for a in fleet.state())
