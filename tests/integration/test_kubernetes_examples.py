"""Every example in examples/ applies to a real cluster (with the real Postgres for its databases),
the next plan has no changes at O(kinds) requests, and destroy removes it all."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.integration.kubernetes_support import KubeCli
from tests.testenv.kube import ControlPlane
from tests.testenv.pytest_kube import private_control_plane

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def roomy() -> Iterator[ControlPlane]:
    """Eight fake nodes (16 GPUs): room for all example tenants at once (14 GPUs)."""
    with private_control_plane(nodes=8, install_crds=True) as cp:
        yield cp


def test_every_example_applies_then_plans_no_changes(roomy, postgres_server, tmp_path: Path):
    k = KubeCli(tmp_path, roomy)
    shutil.rmtree(k.spec)
    shutil.copytree(EXAMPLES, k.spec)
    tenants = sorted(p.stem for p in k.spec.glob("*.yaml") if p.stem != "project")
    env = {"ECPCTL_POSTGRES_DSN": postgres_server.admin_dsn}

    r = k("apply", str(k.spec), "--auto-approve", env=env)
    assert r.exit_code == 0, r.output
    assert "Apply complete!" in r.output
    assert "nodes can allocate" not in r.output              # everything fits this cluster

    r = k("plan", str(k.spec), "--detailed-exitcode", env=env)
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output
    plan = json.loads(k("plan", str(k.spec), "--json", env=env).stdout)
    counts = plan["requests"]["kubernetes"]
    kube_types = {c["type"] for c in plan["resource_changes"] if c["provider"] == "kubernetes"}
    kube_objects = sum(1 for c in plan["resource_changes"] if c["provider"] == "kubernetes")
    # no GET per object: one for the cluster's identity (kube-system's UID, the plan's target)
    # and, for a plan of a few tenants, one per tenant namespace instead of listing them all
    assert set(counts) <= {"list", "discovery", "get"}, counts
    assert counts.get("get", 0) <= 1 + len(tenants), counts
    assert counts["list"] <= len(kube_types) + 1, counts
    assert kube_objects > 4 * len(kube_types)                 # many objects, still one LIST per kind

    status = k.ok("status", "--path", str(k.spec))
    for t in tenants:
        assert t in status.output
    assert "services ready." in status.output
    assert "degraded" not in status.output

    # each tenant's services can log in with the credentials ecpctl wrote into its Secret
    for t in tenants:
        secret = roomy.kubectl_json("get", "secret", "ecp-ai-db", "-n", f"ecp-ai-{t}")
        url = base64.b64decode(secret["data"]["DATABASE_URL"]).decode()
        with psycopg.connect(url, connect_timeout=5) as conn:
            user, db = conn.execute("SELECT current_user, current_database()").fetchone()
            assert (user, db) == (f"{t}_app", t)
            conn.execute(sql.SQL("CREATE TABLE {}.smoke (id int)").format(sql.Identifier(t)))

    r = k("destroy", str(k.spec), "--auto-approve", env=env)
    assert r.exit_code == 0, r.output
    for t in tenants:
        assert not k.exists("namespace", f"ecp-ai-{t}")
