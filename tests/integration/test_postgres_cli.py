"""End to end through the CLI: the example tenants' Postgres resources planned, applied, drifted,
rotated and destroyed against the real server, with only the postgres provider in scope
(`--target 'tenant.*.postgres.*'`)."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from ecpctl.engine import desired_state
from tests.integration.postgres_support import DSN_ENV

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TARGET = "tenant.*.postgres.*"

def example_tenants() -> tuple[str, ...]:
    from ecpctl.config import load_config
    return tuple(lt.tenant.metadata.name for lt in load_config(EXAMPLES).tenants
                 if lt.tenant.spec.database.enabled)


TENANTS = example_tenants()


class Cli:
    def __init__(self, data_dir: Path, env: dict[str, str]):
        self.data_dir = data_dir
        self.env = env
        self.outputs: list[str] = []

    def __call__(self, *args: str):
        from ecpctl.cli.main import cli
        result = CliRunner().invoke(cli, ["--data-dir", str(self.data_dir), *args], env=self.env,
                                    catch_exceptions=False)
        self.outputs.append(result.output)
        return result

    def state(self):
        from ecpctl.cli.context import CliContext
        ctx = CliContext(data_dir=self.data_dir)
        try:
            return dict(ctx.store().snapshot(ctx.workspace).resources)
        finally:
            ctx.close()


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    dst = tmp_path / "examples"
    shutil.copytree(EXAMPLES, dst)
    return dst


@pytest.fixture
def ecpctl(postgres_server, tmp_path, monkeypatch):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    for var in ("ECPCTL_PROVIDER_OVERRIDES", "ECPCTL_STATE_URL", "ECPCTL_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    run = Cli(tmp_path / ".ecpctl", {DSN_ENV: postgres_server.admin_dsn, "NO_COLOR": "1",
                                     "COLUMNS": "200"})
    yield run
    with postgres_server.connect() as conn:     # whatever a failed test left behind
        for tid in TENANTS:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(tid)))
        for tid in TENANTS:
            for suffix in ("_app", "_owner"):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(tid + suffix)))


def secret_of(examples: Path, state, tid: str) -> dict[str, str]:
    """The data of the database Secret that ecpctl writes for `tid`, decoded."""
    desired = desired_state(examples, state)
    secret = next(r for r in desired.resources
                  if r.tenant == tid and r.type == "v1.Secret" and r.name.endswith("ecp-ai-db"))
    return {k: base64.b64decode(v).decode() for k, v in secret.attributes["data"].items()}


def test_example_tenants_through_the_cli(ecpctl, examples, postgres_server):
    assert len(TENANTS) >= 2
    r = ecpctl("plan", str(examples), "--target", TARGET)
    assert r.exit_code == 0, r.output
    assert "to add, 0 to change, 0 to destroy." in r.output
    assert "kubernetes" not in r.output.split("Plan:")[0].replace("tenant.", "")  # postgres only

    r = ecpctl("apply", str(examples), "--target", TARGET, "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "Apply complete!" in r.output

    r = ecpctl("plan", str(examples), "--target", TARGET, "--detailed-exitcode")
    assert r.exit_code == 0, r.output
    assert "No changes." in r.output

    # the services log in with what their Secret holds
    state = ecpctl.state()
    passwords = []
    for tid in TENANTS:
        data = secret_of(examples, state, tid)
        passwords.append(data["PGPASSWORD"])
        assert data["PGPASSWORD"] == state[f"tenant.{tid}.postgres.role.{tid}_app"].attributes["password"]
        with psycopg.connect(data["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {}.smoke (x int)").format(sql.Identifier(tid)))
            conn.execute(sql.SQL("INSERT INTO {}.smoke VALUES (1)").format(sql.Identifier(tid)))
    r = ecpctl("plan", str(examples), "--target", TARGET, "--detailed-exitcode")
    assert r.exit_code == 0, r.output

    # a hand-made ALTER ROLE shows as exactly that change; apply restores it
    tid = TENANTS[0]
    app = f"{tid}_app"
    limit = state[f"tenant.{tid}.postgres.role.{app}"].attributes["connection_limit"]
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 5").format(sql.Identifier(app)))
    r = ecpctl("plan", str(examples), "--target", TARGET, "--detailed-exitcode")
    assert r.exit_code == 2, r.output
    assert f"# tenant.{tid}.postgres.role.{app} will be updated in-place" in r.output
    assert f"~ connection_limit = 5 -> {limit}" in r.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.output
    r = ecpctl("apply", str(examples), "--target", TARGET, "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "No changes." in ecpctl("plan", str(examples), "--target", TARGET).output

    # -replace rotates the password; the Secret follows
    tid = TENANTS[-1]
    role = f"tenant.{tid}.postgres.role.{tid}_app"
    r = ecpctl("apply", str(examples), "--target", TARGET, "-replace", role, "--auto-approve")
    assert r.exit_code == 0, r.output
    assert f"# {role} will be updated in-place" in r.output
    assert "generated secrets are rotated in place" in r.output
    state = ecpctl.state()
    new = state[role].attributes["password"]
    assert new not in passwords
    passwords.append(new)
    assert secret_of(examples, state, tid)["PGPASSWORD"] == new
    # the role kept its grants: the services log in with the new password at once
    assert "No changes." in ecpctl("plan", str(examples), "--target", TARGET).output
    data = secret_of(examples, ecpctl.state(), tid)
    with psycopg.connect(data["DATABASE_URL"]) as conn:
        conn.execute(sql.SQL("SELECT count(*) FROM {}.smoke").format(sql.Identifier(tid)))

    r = ecpctl("destroy", str(examples), "--target", TARGET, "--auto-approve")
    assert r.exit_code == 0, r.output
    assert "Destroy complete!" in r.output
    with postgres_server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = ANY(%s)",
                            (list(TENANTS),)).fetchone()[0] == 0

    for out in ecpctl.outputs:
        for pw in passwords:
            assert pw not in out
