"""Tenant database backups against the real Postgres: `ecpctl db backup` and `db restore` bring
back what the tenant wrote; a restore over a non-empty database is refused unless asked, naming
what it would replace; the backup CronJob's own script dumps with the tenant's login and prunes
by age; and the CronJob (claim and S3 targets) passes a server-side dry run on the real API server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ecpctl.engine import desired_state
from tests.integration.postgres_support import DSN_ENV, new_tenant_id
from tests.integration.test_postgres_cli import Cli

pytestmark = [pytest.mark.integration]

PROJECT = """\
apiVersion: ecp.ai/v1
kind: Project
metadata:
  name: backup-tests
spec:
  providers:
    postgres:
      dsnEnv: ECPCTL_POSTGRES_DSN
  backup:
    enabled: true
    retainDays: 2
{target}"""

TENANT = """\
apiVersion: ecp.ai/v1
kind: Tenant
metadata:
  name: {tid}
spec:
  services:
    chatbot: 10
  sla:
    availability: "99%"
  database:
    enabled: true
    extensions: [pgcrypto]
"""


@pytest.fixture
def tenant_db(postgres_server, tmp_path, monkeypatch):
    """A tenant whose Postgres objects ecpctl applied; yields (cli, spec dir, tenant id)."""
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    tid = new_tenant_id("bk")
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "project.yaml").write_text(PROJECT.format(target=""))
    (spec / f"{tid}.yaml").write_text(TENANT.format(tid=tid))
    cli = Cli(tmp_path / ".ecpctl", {DSN_ENV: postgres_server.admin_dsn, "NO_COLOR": "1",
                                     "COLUMNS": "200", "ECPCTL_STATE_URL": None,
                                     "ECPCTL_WORKSPACE": None, "ECPCTL_PROVIDER_OVERRIDES": None})
    r = cli("apply", str(spec), "--target", "tenant.*.postgres.*", "--auto-approve")
    assert r.exit_code == 0, r.output
    yield cli, spec, tid
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(tid)))
        for suffix in ("_app", "_owner"):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(tid + suffix)))


def tenant_secret(spec: Path, state, tid: str) -> dict[str, str]:
    desired = desired_state(spec, state)
    secret = next(r for r in desired.resources if r.tenant == tid and r.type == "v1.Secret"
                  and r.name == "ecp-ai-db")
    return {k: base64.b64decode(v).decode() for k, v in secret.attributes["data"].items()}


def as_tenant(spec: Path, cli: Cli, tid: str) -> psycopg.Connection:
    return psycopg.connect(tenant_secret(spec, cli.state(), tid)["DATABASE_URL"], autocommit=True)


def orders(conn, tid: str) -> list[tuple]:
    return conn.execute(sql.SQL("SELECT id, item FROM {}.orders ORDER BY id").format(
        sql.Identifier(tid))).fetchall()


def test_backup_drop_restore_brings_the_rows_back(tenant_db, tmp_path):
    cli, spec, tid = tenant_db
    rows = [(1, "헤드셋"), (2, "GPU hours"), (3, "call minutes")]
    with as_tenant(spec, cli, tid) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.orders (id serial PRIMARY KEY, item text NOT NULL)")
                     .format(sql.Identifier(tid)))
        for _, item in rows:
            conn.execute(sql.SQL("INSERT INTO {}.orders (item) VALUES (%s)").format(
                sql.Identifier(tid)), (item,))
    dump = tmp_path / "tenant.dump"
    r = cli("db", "backup", tid, "-o", str(dump), "-p", str(spec))
    assert r.exit_code == 0, r.output
    assert f"Wrote {dump}" in r.output and "1 table" in r.output
    assert dump.read_bytes()[:5] == b"PGDMP" and oct(dump.stat().st_mode & 0o777) == "0o600"

    with as_tenant(spec, cli, tid) as conn:
        conn.execute(sql.SQL("DROP TABLE {}.orders").format(sql.Identifier(tid)))
    r = cli("db", "restore", tid, str(dump), "-p", str(spec), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["command"] == "db restore" and doc["ok"]
    assert doc["restored"] == [f"table {tid}.orders"] and doc["replaced"] == []
    with as_tenant(spec, cli, tid) as conn:
        assert orders(conn, tid) == rows
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'").fetchone()
        assert owner == (f"{tid}_app",)
        # the serial column's sequence continues after the restored rows
        conn.execute(sql.SQL("INSERT INTO {}.orders (item) VALUES ('next')").format(sql.Identifier(tid)))
        assert orders(conn, tid)[-1][0] == 4
    # the plan is still a no-op: schemas, grants and extensions were left as ecpctl made them
    r = cli("plan", str(spec), "--target", "tenant.*.postgres.*", "--detailed-exitcode")
    assert r.exit_code == 0, r.output

    # over a non-empty database: refused, naming what it would replace, unless --yes
    with as_tenant(spec, cli, tid) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.notes (x int)").format(sql.Identifier(tid)))
    r = cli("db", "restore", tid, str(dump), "-p", str(spec))
    assert r.exit_code == 1
    (line,) = [ln for ln in r.output.splitlines() if ln.strip()]
    assert f"database {tid} is not empty" in line
    assert f"would replace 1 existing object (table {tid}.orders)" in line
    assert f"would keep 1 not in the archive (table {tid}.notes)" in line and "--yes" in line
    r = cli("db", "restore", tid, str(dump), "-p", str(spec), "--yes")
    assert r.exit_code == 0, r.output
    assert "1 replaced, 1 left as they were" in r.output
    with as_tenant(spec, cli, tid) as conn:
        assert orders(conn, tid) == rows                      # the row added since is gone
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}.notes").format(
            sql.Identifier(tid))).fetchone() == (0,)


def test_bad_input_fails_in_one_line(tenant_db, tmp_path):
    cli, spec, tid = tenant_db
    plain = tmp_path / "plain.sql.gz"
    plain.write_bytes(b"\x1f\x8b\x08\x00rest")
    r = cli("db", "restore", tid, str(plain), "-p", str(spec))
    assert r.exit_code == 1 and "gzip-compressed" in r.output and len(r.output.splitlines()) == 1
    r = cli("db", "backup", "nobody", "-p", str(spec))
    assert r.exit_code == 1 and f"no tenant nobody in {spec} (it has: {tid})" in r.output
    cli.env[DSN_ENV] = "postgresql://postgres:s3cret-pw@127.0.0.1:1/postgres"
    r = cli("db", "backup", tid, "-o", str(tmp_path / "x.dump"), "-p", str(spec))
    assert r.exit_code == 1 and "s3cret-pw" not in r.output
    assert "pg_dump" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.dump").exists()


def test_the_cronjob_script_dumps_with_the_tenants_login_and_prunes(tenant_db, tmp_path):
    cli, spec, tid = tenant_db
    with as_tenant(spec, cli, tid) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.calls (n int)").format(sql.Identifier(tid)))
        conn.execute(sql.SQL("INSERT INTO {}.calls VALUES (7)").format(sql.Identifier(tid)))
    desired = desired_state(spec, cli.state())
    by = {(r.tenant, r.type, r.name): r for r in desired.resources}
    cron = by[(tid, "batch/v1.CronJob", "ecp-ai-db-backup")].attributes
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    config = by[(tid, "v1.ConfigMap", "ecp-ai-config")].attributes["data"]
    secret = tenant_secret(spec, cli.state(), tid)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    old = dumps / f"{tid}-20200101T020000Z.dump"
    old.write_bytes(b"PGDMP old")
    os.utime(old, (time.time() - 3 * 86400,) * 2)              # older than retainDays: 2
    other = dumps / "someone-else-20200101T020000Z.dump"
    other.write_bytes(b"PGDMP")
    os.utime(other, (time.time() - 3 * 86400,) * 2)
    env = {"PATH": os.environ["PATH"], **{e["name"]: e["value"] for e in container["env"]},
           "DUMP_DIR": str(dumps),
           **{k: config[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")},
           "PGPASSWORD": secret["PGPASSWORD"]}          # the tenant's login: no admin anywhere
    assert env["PGUSER"] == f"{tid}_app"
    r = subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    made = sorted(p.name for p in dumps.glob(f"{tid}-*.dump"))
    assert len(made) == 1 and made[0] != old.name and f"wrote {dumps}/{made[0]}" in r.stdout
    assert not old.exists() and other.exists()           # only this tenant's, only the old
    # what the CronJob writes, `db restore` reads
    with as_tenant(spec, cli, tid) as conn:
        conn.execute(sql.SQL("DROP TABLE {}.calls").format(sql.Identifier(tid)))
    r = cli("db", "restore", tid, str(dumps / made[0]), "-p", str(spec))
    assert r.exit_code == 0, r.output
    with as_tenant(spec, cli, tid) as conn:
        assert conn.execute(sql.SQL("SELECT n FROM {}.calls").format(
            sql.Identifier(tid))).fetchall() == [(7,)]


@pytest.mark.kube
@pytest.mark.parametrize("target", [
    "",
    "    target:\n      s3: {bucket: ecp-backups, endpoint: 'http://minio.storage.svc:9000'}\n"
    "    s3Credentials: {secretName: aws-credentials}\n",
], ids=["pvc", "s3"])
def test_the_cronjob_passes_a_server_side_dry_run(control_plane, namespace, tmp_path, target):
    spec = tmp_path / "spec"
    spec.mkdir()
    tid = new_tenant_id("bk")
    (spec / "project.yaml").write_text(PROJECT.format(target=target))
    (spec / f"{tid}.yaml").write_text(TENANT.format(tid=tid))
    objs = []
    for r in desired_state(spec).resources:
        if r.type in ("batch/v1.CronJob", "v1.PersistentVolumeClaim"):
            obj = json.loads(json.dumps(r.attributes))
            obj["metadata"]["namespace"] = namespace
            objs.append(obj)
    assert [o["kind"] for o in objs] == (["PersistentVolumeClaim", "CronJob"] if not target
                                         else ["CronJob"])
    out = control_plane.kubectl("apply", "--server-side", "--field-manager=ecpctl",
                                "--dry-run=server", "-o", "json", "-f", "-",
                                input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                  "items": objs}))
    applied = json.loads(out.stdout)
    items = applied.get("items", [applied])
    cron = next(i for i in items if i["kind"] == "CronJob")
    assert cron["spec"]["schedule"] == "0 2 * * *"
