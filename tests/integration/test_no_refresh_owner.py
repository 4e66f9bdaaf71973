"""apply and destroy --no-refresh check the owner as they write (docs/ownership.md): they read
nothing live before, so each provider reads the object's mark just before changing or deleting
it (Kubernetes: a GET, then DELETE with the uid it read as precondition; Postgres: the role's or
database's comment, and for what lives in a database, the database's). Real control plane and
Postgres, through the CLI, checked with kubectl and psql."""

from __future__ import annotations

import pytest

from ecpctl.kernel.ownership import WORKSPACE_ANNOTATION
from tests.integration.test_workspaces import SAME_NAMES, Cli, cleanup, names  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]


def _alive(cli: Cli, ns: str) -> dict:
    obj = cli.namespace(ns)
    assert obj is not None and not obj["metadata"].get("deletionTimestamp"), obj
    return obj


def _schemas(cli: Cli, db: str) -> set[str]:
    with cli.pg.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}


def test_no_refresh_destroy_and_apply_refuse_another_workspaces_objects(
        tmp_path, control_plane, postgres_server, names, cleanup):  # noqa: F811
    t = names
    ns, db, role = f"ecp-ai-{t}", t, f"{t}_app"
    cli = Cli(tmp_path, control_plane, postgres_server, SAME_NAMES, t)
    cleanup.append((ns, db, role))
    cli.ok("green", "workspace", "new", "green")
    cli.ok("blue", "workspace", "new", "blue")
    # green made them; blue took them over since: green's state still records them all
    cli.apply("green")
    cli.apply("blue", "--adopt")
    assert _alive(cli, ns)["metadata"]["annotations"][WORKSPACE_ANNOTATION] == "blue"
    schemas = _schemas(cli, db)
    deployments = control_plane.kubectl_json("get", "deployments", "-n", ns)["items"]
    assert [d["metadata"]["name"] for d in deployments] == ["chatbot"]

    r = cli("green", "destroy", str(cli.spec), "--auto-approve", "--no-refresh")
    assert r.exit_code == 1, r.output
    assert (f"refusing to delete HorizontalPodAutoscaler {ns}/chatbot: it is owned by workspace "
            "'blue'" in r.output), r.output
    assert "check the owner just before they write" in r.output
    # with green's state holding the database's objects alone (nothing of Kubernetes to fail
    # first): refused at the schema and the grants, by the database's mark, before the database
    # is emptied, and at the roles
    kube = [a for a in cli.ok("green", "state", "list").output.split()
            if a.startswith(f"tenant.{t}.kubernetes.")]
    assert kube
    cli.ok("green", "state", "rm", *kube)
    r = cli("green", "destroy", str(cli.spec), "--auto-approve", "--no-refresh")
    assert r.exit_code == 1, r.output
    assert "Resources: 0 added, 0 changed, 0 destroyed." in r.output
    assert (f"refusing to delete grant {role} in database {db}: it is owned by workspace 'blue'"
            in r.output), r.output
    # and with only the database and roles left to green: refused by their own comments
    inside = [a for a in cli.ok("green", "state", "list").output.split()
              if a.startswith((f"tenant.{t}.postgres.grant.", f"tenant.{t}.postgres.schema."))]
    cli.ok("green", "state", "rm", *inside)
    r = cli("green", "destroy", str(cli.spec), "--auto-approve", "--no-refresh")
    assert r.exit_code == 1, r.output
    for what in (f"database {db}", f"role {role}"):     # the owner role waits on the database
        assert f"refusing to delete {what}: it is owned by workspace 'blue'" in r.output, r.output
    # nothing of blue's is gone or going: namespace, its objects, database, its schemas, roles
    _alive(cli, ns)
    after = control_plane.kubectl_json("get", "deployments", "-n", ns)["items"]
    assert [(d["metadata"]["uid"], d["metadata"].get("deletionTimestamp")) for d in after] == \
        [(d["metadata"]["uid"], None) for d in deployments]
    assert db in cli.databases() and {role, f"{t}_owner"} <= cli.roles()
    assert _schemas(cli, db) == schemas

    # an apply --no-refresh from green would write green's marks over blue's: refused as well
    spec = cli.spec / f"{t}.yaml"
    spec.write_text(spec.read_text().replace("chatbot: 10", "chatbot: 40"))
    r = cli("green", "apply", str(cli.spec), "--auto-approve", "--no-wait", "--no-refresh")
    assert r.exit_code == 1, r.output
    assert f"refusing to create over Namespace {ns}: it is owned by workspace 'blue'" \
        in r.output, r.output
    assert _alive(cli, ns)["metadata"]["annotations"][WORKSPACE_ANNOTATION] == "blue"
    comment = cli.psql("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = %s", db)[0][0]
    assert comment.startswith("ecpctl owner: workspace=blue ")

    # the owner's own --no-refresh destroy goes through the same checks and deletes it all
    cli.ok("blue", "destroy", str(cli.spec), "--auto-approve", "--no-refresh")
    gone = cli.namespace(ns)
    assert gone is None or gone["metadata"].get("deletionTimestamp")
    assert db not in cli.databases() and role not in cli.roles()
