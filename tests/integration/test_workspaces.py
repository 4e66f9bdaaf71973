"""Two workspaces on one cluster and one Postgres, through the real CLI (docs/ownership.md):

* with the same names, the second workspace's plan is refused, naming the owner and the object;
* with per-workspace provider settings both apply side by side, and a destroy in one leaves the
  other untouched (checked with kubectl and psql);
* objects without the owner mark: those state records (an earlier ecpctl) get the mark on the next
  apply; those it does not are refused until taken over with --adopt;
* a demo tenant in a production workspace is an error at its file and line.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql

from ecpctl.kernel.ownership import LINEAGE_ANNOTATION, OWNER_LABEL, WORKSPACE_ANNOTATION
from tests.integration.postgres_support import DSN_ENV

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: ws-tests
spec:
  providers:
    kubernetes: {{}}
    postgres: {{dsnEnv: {dsn_env}}}
  monitoring: {{dashboardsMode: configmap, alertmanagerMode: kubernetes}}
  backup: {{enabled: false}}
  workspaces:
{workspaces}
"""

SAME_NAMES = """\
    blue: {}
    green: {}
"""

OWN_NAMES = """\
    demo:
      demo: true
      providers:
        kubernetes: {namespacePrefix: ecp-demo-}
        postgres: {rolePattern: "demo_{tenant}_app", ownerRolePattern: "demo_{tenant}_owner",
                   databasePattern: "demo_{tenant}", schemaPattern: "demo_{tenant}"}
    production:
      providers:
        kubernetes: {namespacePrefix: ecp-prod-}
        postgres: {rolePattern: "prod_{tenant}_app", ownerRolePattern: "prod_{tenant}_owner",
                   databasePattern: "prod_{tenant}"}
"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {name}
spec:
  preset: small
  demo: {demo}
  services:
    chatbot: 10
  sla:
    availability: "99.5%"
  database:
    enabled: true
"""


class Cli:
    """`ecpctl` in-process against the session's control plane and Postgres, one state dir."""

    def __init__(self, root: Path, control_plane, postgres_server, workspaces: str, tenant: str,
                 demo: bool = False):
        self.root, self.cp, self.pg = root, control_plane, postgres_server
        self.spec = root / "spec"
        self.spec.mkdir(parents=True, exist_ok=True)
        (self.spec / "project.yaml").write_text(PROJECT.format(dsn_env=DSN_ENV,
                                                               workspaces=workspaces))
        self.tenant = tenant
        (self.spec / f"{tenant}.yaml").write_text(TENANT.format(name=tenant,
                                                                demo=str(demo).lower()))

    def __call__(self, workspace: str, *args: str) -> Result:
        from ecpctl.cli.main import cli
        env = {"KUBECONFIG": str(self.cp.kubeconfig), "NO_COLOR": "1", "COLUMNS": "250",
               DSN_ENV: self.pg.admin_dsn, "ECPCTL_PROVIDER_OVERRIDES": None,
               "ECPCTL_STATE_URL": None, "ECPCTL_WORKSPACE": None}
        return CliRunner().invoke(cli, ["--data-dir", str(self.root / ".ecpctl"),
                                        "--workspace", workspace, *args],
                                  env=env, catch_exceptions=False)

    def ok(self, workspace: str, *args: str) -> Result:
        r = self(workspace, *args)
        assert r.exit_code == 0, f"ecpctl -w {workspace} {' '.join(args)}: {r.exit_code}\n{r.output}"
        return r

    def apply(self, workspace: str, *extra: str) -> Result:
        return self.ok(workspace, "apply", str(self.spec), "--auto-approve", "--no-wait", *extra)

    def namespace(self, name: str) -> dict | None:
        r = self.cp.kubectl("get", "namespace", name, "--ignore-not-found", "-o", "name",
                            check=False)
        return self.cp.kubectl_json("get", "namespace", name) if r.stdout.strip() else None

    def psql(self, query: str, *params) -> list[tuple]:
        with self.pg.connect() as conn:
            return conn.execute(query, params).fetchall()

    def databases(self) -> set[str]:
        return {r[0] for r in self.psql("SELECT datname FROM pg_database")}

    def roles(self) -> set[str]:
        return {r[0] for r in self.psql("SELECT rolname FROM pg_roles")}


@pytest.fixture
def names() -> str:
    return f"ws-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def cleanup(control_plane, postgres_server):
    made: list[tuple[str, str, str]] = []      # (namespace, database, role)
    yield made
    for ns, db, role in made:      # whatever a failed test left behind
        control_plane.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found",
                              check=False)
        with postgres_server.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            for r in (role, role.removesuffix("_app") + "_owner"):
                try:
                    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r)))
                except psycopg.Error:
                    pass


def _db(tenant: str) -> str:
    return tenant


def test_same_tenant_in_a_second_workspace_is_refused_naming_the_owner(
        tmp_path, control_plane, postgres_server, names, cleanup):
    t = names
    cli = Cli(tmp_path, control_plane, postgres_server, SAME_NAMES, t)
    cleanup.append((f"ecp-ai-{t}", _db(t), f"{_db(t)}_app"))
    cli.ok("blue", "workspace", "new", "blue")
    cli.ok("green", "workspace", "new", "green")
    cli.apply("blue")

    ns = cli.namespace(f"ecp-ai-{t}")
    assert ns is not None
    ann = ns["metadata"]["annotations"]
    assert ann[WORKSPACE_ANNOTATION] == "blue" and ann[LINEAGE_ANNOTATION]
    assert len(ns["metadata"]["labels"][OWNER_LABEL]) == 16
    comment = cli.psql("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = %s", _db(t))
    assert comment == [(f"ecpctl owner: workspace=blue lineage={ann[LINEAGE_ANNOTATION]}",)]

    r = cli("green", "plan", str(cli.spec))
    assert r.exit_code == 1, r.output
    assert f"refusing to create over v1.Namespace ecp-ai-{t}: it is owned by workspace 'blue'" \
        in r.output
    assert f"refusing to create over database {_db(t)}: it is owned by workspace 'blue'" in r.output
    assert f"refusing to create over role {_db(t)}_app" in r.output
    # the same refusal from apply, which changes nothing
    r = cli("green", "apply", str(cli.spec), "--auto-approve")
    assert r.exit_code == 1
    assert cli.namespace(f"ecp-ai-{t}")["metadata"]["annotations"][WORKSPACE_ANNOTATION] == "blue"

    # a destroy in green has nothing of blue's to delete; blue's plan is still clean
    r = cli.ok("green", "destroy", str(cli.spec), "--auto-approve")
    assert cli.namespace(f"ecp-ai-{t}") is not None and _db(t) in cli.databases()
    assert "No changes." in cli.ok("blue", "plan", str(cli.spec)).output

    # --adopt takes it over, and says so
    r = cli.ok("green", "plan", str(cli.spec), "--adopt")
    assert "adopted with --adopt (owned by workspace 'blue'" in r.output
    cli.apply("green", "--adopt")
    assert cli.namespace(f"ecp-ai-{t}")["metadata"]["annotations"][WORKSPACE_ANNOTATION] == "green"
    # now blue may not delete what green owns
    r = cli("blue", "destroy", str(cli.spec), "--auto-approve")
    assert r.exit_code == 1
    assert f"refusing to delete v1.Namespace ecp-ai-{t}: it is owned by workspace 'green'" \
        in r.output
    assert cli.namespace(f"ecp-ai-{t}") is not None
    cli.ok("green", "destroy", str(cli.spec), "--auto-approve")


def test_per_workspace_settings_apply_side_by_side_and_destroy_leaves_the_other(
        tmp_path, control_plane, postgres_server, names, cleanup):
    t = names
    demo = Cli(tmp_path / "demo", control_plane, postgres_server, OWN_NAMES, t, demo=True)
    prod = Cli(tmp_path / "prod", control_plane, postgres_server, OWN_NAMES, t)
    cleanup.extend([(f"ecp-demo-{t}", f"demo_{_db(t)}", f"demo_{_db(t)}_app"),
                    (f"ecp-prod-{t}", f"prod_{_db(t)}", f"prod_{_db(t)}_app")])
    # one state database for both workspaces, as a team would have
    prod.root = demo.root
    demo.ok("demo", "workspace", "new", "demo")
    demo.ok("production", "workspace", "new", "production")
    demo.apply("demo")
    prod.apply("production")

    assert demo.namespace(f"ecp-demo-{t}") is not None
    assert demo.namespace(f"ecp-prod-{t}") is not None
    assert {f"demo_{_db(t)}", f"prod_{_db(t)}"} <= demo.databases()
    assert {f"demo_{_db(t)}_app", f"prod_{_db(t)}_app"} <= demo.roles()
    # each tenant's Secret points at its own database
    secret = control_plane.kubectl_json("get", "secret", "-n", f"ecp-prod-{t}", "-l",
                                        "ecp.ai/tenant=" + t)
    assert secret["items"]

    demo.ok("demo", "destroy", str(demo.spec), "--auto-approve")
    assert demo.namespace(f"ecp-demo-{t}") is None or \
        demo.namespace(f"ecp-demo-{t}")["metadata"].get("deletionTimestamp")
    assert f"demo_{_db(t)}" not in demo.databases()
    assert f"demo_{_db(t)}_app" not in demo.roles()
    # production untouched
    assert demo.namespace(f"ecp-prod-{t}")["metadata"].get("deletionTimestamp") is None
    assert f"prod_{_db(t)}" in demo.databases() and f"prod_{_db(t)}_app" in demo.roles()
    deps = control_plane.kubectl_json("get", "deployments", "-n", f"ecp-prod-{t}")
    assert [d["metadata"]["name"] for d in deps["items"]] == ["chatbot"]
    assert "No changes." in prod.ok("production", "plan", str(prod.spec)).output
    prod.ok("production", "destroy", str(prod.spec), "--auto-approve")


def test_unmarked_objects_state_records_get_the_mark_others_need_adopt(
        tmp_path, control_plane, postgres_server, names, cleanup):
    t = names
    cli = Cli(tmp_path, control_plane, postgres_server, SAME_NAMES, t)
    cleanup.append((f"ecp-ai-{t}", _db(t), f"{_db(t)}_app"))
    cli.ok("blue", "workspace", "new", "blue")
    cli.apply("blue")
    # as an ecpctl from before the marks left them: no owner label, annotations or comments
    ns = f"ecp-ai-{t}"
    cli.cp.kubectl("label", "namespace", ns, f"{OWNER_LABEL}-")
    cli.cp.kubectl("annotate", "namespace", ns, f"{WORKSPACE_ANNOTATION}-", f"{LINEAGE_ANNOTATION}-")
    cli.cp.kubectl("label", "deployment", "chatbot", "-n", ns, f"{OWNER_LABEL}-")
    cli.cp.kubectl("annotate", "deployment", "chatbot", "-n", ns, f"{WORKSPACE_ANNOTATION}-",
                   f"{LINEAGE_ANNOTATION}-")
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(sql.Identifier(_db(t))))
        for role in (f"{_db(t)}_app", f"{_db(t)}_owner"):
            conn.execute(sql.SQL("COMMENT ON ROLE {} IS NULL").format(sql.Identifier(role)))

    r = cli.ok("blue", "plan", str(cli.spec))
    assert "refusing" not in r.output
    assert f"postgres.database.{_db(t)}" in r.output
    assert "without this state's owner mark; apply writes it" in r.output
    cli.apply("blue")
    assert cli.namespace(ns)["metadata"]["annotations"][WORKSPACE_ANNOTATION] == "blue"
    assert cli.psql("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = %s", _db(t))[0][0].startswith("ecpctl owner: workspace=blue ")
    assert "No changes." in cli.ok("blue", "plan", str(cli.spec)).output

    # an object of the tenant's name that nobody marked and state does not record
    cli.cp.kubectl("create", "configmap", "made-by-hand", "-n", ns)
    other = f"{t}x"
    cleanup.append((f"ecp-ai-{other}", _db(other), f"{_db(other)}_app"))
    cli.cp.kubectl("create", "namespace", f"ecp-ai-{other}")
    (cli.spec / f"{other}.yaml").write_text(TENANT.format(name=other, demo="false"))
    r = cli("blue", "plan", str(cli.spec))
    assert r.exit_code == 1
    assert (f"refusing to create over v1.Namespace ecp-ai-{other}: it already exists and carries "
            "no ecpctl owner mark") in r.output
    assert "--adopt" in r.output
    cli.apply("blue", "--adopt")
    assert cli.namespace(f"ecp-ai-{other}")["metadata"]["annotations"][WORKSPACE_ANNOTATION] == "blue"
    cli.ok("blue", "destroy", str(cli.spec), "--auto-approve")


def test_a_demo_tenant_in_a_production_workspace_is_an_error_at_its_line(
        tmp_path, control_plane, postgres_server, names):
    cli = Cli(tmp_path, control_plane, postgres_server, OWN_NAMES, names, demo=True)
    cli.ok("production", "workspace", "new", "production")
    r = cli("production", "apply", str(cli.spec), "--auto-approve")
    assert r.exit_code == 1
    assert f"{names}.yaml:7:" in r.output
    assert f"tenant {names} is a demo tenant (demo: true) but workspace production is not a demo" \
        in r.output
    assert cli.namespace(f"ecp-prod-{names}") is None


def test_status_reads_each_workspace_through_its_own_settings(
        tmp_path, control_plane, postgres_server, names, cleanup):
    import json
    t = names
    cli = Cli(tmp_path, control_plane, postgres_server, OWN_NAMES, t, demo=True)
    cleanup.append((f"ecp-demo-{t}", f"demo_{_db(t)}", f"demo_{_db(t)}_app"))
    cli.ok("demo", "workspace", "new", "demo")
    cli.apply("demo")
    r = cli("demo", "status", "-p", str(cli.spec), "--json")
    assert r.exit_code in (0, 3), r.output         # 3 while the pod is not Ready yet
    (tenant,) = json.loads(r.output)["tenants"]
    assert tenant["namespace"] == f"ecp-demo-{t}"
    (svc,) = tenant["services"]
    assert svc["service"] == "chatbot" and svc["desired_replicas"] == 1   # found where demo put it
    # production reads it through its own settings too: a demo tenant there is refused at its line
    r = cli("production", "status", "-p", str(cli.spec))
    assert r.exit_code == 1 and f"{t}.yaml:" in r.output and "demo" in r.output, r.output
    cli.ok("demo", "destroy", str(cli.spec), "--auto-approve")
