"""Nothing waits forever, Postgres side, against the real server: a DDL blocked by another
session's lock gives up after the Project's `lockTimeout`, naming the object and the session that
holds the lock; the apply ends with exit 1, the workspace lock is released, and state keeps what
finished (the blocked change is planned again)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from tests.integration.postgres_support import DSN_ENV, new_tenant_id, write_specs
from tests.integration.test_postgres_cli import Cli

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

TARGET = "tenant.*.postgres.*"
TIMEOUTS = """\
      lockTimeout: 300ms
      statementTimeout: 20s
      connectTimeout: 5s
"""


@pytest.fixture
def world(postgres_server, tmp_path, monkeypatch):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    for var in ("ECPCTL_PROVIDER_OVERRIDES", "ECPCTL_STATE_URL", "ECPCTL_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    tid = new_tenant_id("dl")
    run = Cli(tmp_path / ".ecpctl", {DSN_ENV: postgres_server.admin_dsn, "NO_COLOR": "1",
                                     "COLUMNS": "250"})
    yield run, tid, tmp_path / "specs"
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(tid)))
        for suffix in ("_app", "_owner"):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(tid + suffix)))


def specs(spec_dir, tid: str, limit: int):
    write_specs(spec_dir, [tid], limit=limit, extensions=())
    project = spec_dir / "project.yaml"
    project.write_text(project.read_text() + TIMEOUTS)
    return str(spec_dir)


def test_a_ddl_blocked_by_another_sessions_lock_fails_naming_object_and_holder(
        world, postgres_server):
    ecpctl, tid, spec_dir = world
    app = f"{tid}_app"
    role = f"tenant.{tid}.postgres.role.{app}"
    r = ecpctl("apply", specs(spec_dir, tid, 20), "--target", TARGET, "--auto-approve")
    assert r.exit_code == 0, r.output

    # another session changes the role and leaves its transaction open
    blocker = psycopg.connect(postgres_server.admin_dsn, application_name="dba-console")
    try:
        blocker.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 7").format(sql.Identifier(app)))
        pid = blocker.info.backend_pid
        r = ecpctl("apply", specs(spec_dir, tid, 30), "--target", TARGET, "--auto-approve")
        assert r.exit_code == 1, r.output
        assert "Traceback" not in r.output
        failed = [line for line in r.output.splitlines() if line.startswith("Error: ")]
        assert len(failed) == 1, r.output
        line = failed[0]
        assert role in line and f"ALTER ROLE {app}:" in line, line
        assert "waiting 300ms (providers.postgres.lockTimeout)" in line, line
        assert f"session pid {pid} (user " in line and "application 'dba-console'" in line, line
        assert "idle in transaction" in line and line.endswith("(SQLSTATE 55P03)"), line
        assert "1 failed, 0 skipped" in r.output

        # the workspace lock is free, and state still holds the limit that was applied
        assert ecpctl.state()[role].attributes["connection_limit"] == 20
        r = ecpctl("plan", str(spec_dir), "--target", TARGET, "--detailed-exitcode")
        assert r.exit_code == 2, r.output
        assert f"# {role} will be updated in-place" in r.output
        assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output
    finally:
        blocker.rollback()
        blocker.close()

    r = ecpctl("apply", str(spec_dir), "--target", TARGET, "--auto-approve")
    assert r.exit_code == 0, r.output
    assert ecpctl.state()[role].attributes["connection_limit"] == 30
    with postgres_server.connect() as conn:
        assert conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s",
                            (app,)).fetchone()[0] == 30


def test_every_provider_session_carries_the_projects_deadlines(world, postgres_server):
    from providers.postgres import PostgresProvider
    from providers.protocol import ConfigureRequest

    p = PostgresProvider()
    resp = p.configure(ConfigureRequest(settings={"dsnEnv": DSN_ENV, "lockTimeout": "1500ms",
                                                  "statementTimeout": "45s"}, options={}))
    assert not resp.diagnostics
    try:
        got = p._ops.pool.run("postgres", lambda c: c.execute(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
        ).fetchone())
        assert got == ("1500ms", "45s")
    finally:
        p.close()
