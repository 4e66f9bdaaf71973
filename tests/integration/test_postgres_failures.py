"""The postgres provider when things go wrong, against the real server: a restart mid-apply, wrong
or missing DSNs, an admin role without the privileges, and secrets that must never leak."""

from __future__ import annotations

import io
import logging
import threading
import time

import psycopg
import pytest
from psycopg import sql
from rich.console import Console

from ecpctl.kernel import Address, ProviderError, ProviderNotConfigured, Resource
from ecpctl.views.plan_human import render_plan
from ecpctl.views.plan_json import render_plan_json
from providers.postgres import PostgresProvider
from providers.protocol import ApplyRequest, ConfigureRequest
from providers.registry import ProviderSet
from tests.integration.postgres_support import DSN_ENV, World, apply, new_tenant_id
from tests.integration.test_postgres_provider import Recorder, addr, role_resource
from tests.testenv.postgres import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def admin_dsn(postgres_server, monkeypatch):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    return postgres_server.admin_dsn


def configure(settings=None) -> tuple[PostgresProvider, list]:
    p = PostgresProvider()
    resp = p.configure(ConfigureRequest(settings=settings or {}, options={}))
    return p, list(resp.diagnostics)


def login_role(server, name: str, password: str, *options: str) -> None:
    with server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + " ".join(options)).format(
            sql.Identifier(name), sql.Literal(password)))


def test_restart_of_postgres_mid_apply_is_retried_and_apply_completes(
        admin_dsn, postgres_server, tmp_path):
    tid = new_tenant_id()
    w = World(tmp_path / "specs", [tid])
    events = Recorder()
    restarted = threading.Event()

    def stop_then_start(change):
        if change.type == "database" and not restarted.is_set():
            restarted.set()
            postgres_server.stop()          # every pooled connection is now dead
            threading.Timer(0.3, postgres_server.start).start()

    events.on_start = stop_then_start
    try:
        p = w.plan()
        apply(w.ps, p, w.store, events=events, retry_sleep=lambda d: time.sleep(max(d, 0.5)))
        assert restarted.is_set()
        retries = [m for m in events.messages if "retrying" in m]
        assert retries, events.messages
        assert all(m.startswith(f"tenant.{tid}.postgres.") for m in retries), retries
        assert not w.plan().has_changes
    finally:
        deadline = time.monotonic() + 30
        while not postgres_server.running and time.monotonic() < deadline:
            time.sleep(0.1)
        w.destroy()


def test_a_stopped_server_gives_a_retryable_error(admin_dsn, postgres_server):
    p, diags = configure()
    assert diags == []
    tid = new_tenant_id()
    postgres_server.stop()
    try:
        with pytest.raises(ProviderError) as err:
            p.apply(ApplyRequest(desired=role_resource(tid, f"{tid}_r"), prior=None, live=None))
        assert err.value.retryable
        assert "providers.postgres.dsnEnv" in err.value.reason
    finally:
        postgres_server.start()
    st = p.apply(ApplyRequest(desired=role_resource(tid, f"{tid}_r"), prior=None, live=None)).state
    assert st.observed["name"] == f"{tid}_r"
    with postgres_server.connect() as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(f"{tid}_r")))
    p.close()


def test_missing_dsn_names_the_variable_and_the_setting(monkeypatch, tmp_path):
    monkeypatch.delenv(DSN_ENV, raising=False)
    _, diags = configure()
    assert len(diags) == 1 and diags[0].severity.value == "error"
    assert DSN_ENV in diags[0].summary and "providers.postgres.dsnEnv" in diags[0].summary
    with pytest.raises(ProviderNotConfigured, match="environment variable ECPCTL_POSTGRES_DSN is not set"):
        ProviderSet({"postgres": {}}).get("postgres")
    _, diags = configure({"dsnEnv": "TENANT_DB_ADMIN"})
    assert "TENANT_DB_ADMIN" in diags[0].summary
    missing = tmp_path / "nope.dsn"
    _, diags = configure({"dsnFile": str(missing)})
    assert str(missing) in diags[0].summary and "providers.postgres.dsnFile" in diags[0].summary


def test_dsn_file_is_read(postgres_server, monkeypatch, tmp_path):
    monkeypatch.delenv(DSN_ENV, raising=False)
    f = tmp_path / "admin.dsn"
    f.write_text(postgres_server.admin_dsn + "\n")
    f.chmod(0o600)
    p, diags = configure({"dsnFile": str(f)})
    assert diags == []
    p.close()


@pytest.mark.parametrize("case", ["port", "password", "malformed", "host"])
def test_wrong_dsn_is_one_line_naming_the_setting_without_the_password(
        case, postgres_server, monkeypatch):
    secret = "Sup3r-S3cret-" + case
    login_role(postgres_server, "ecpctl_pw_test", "the-right-password")
    dsn = {
        "port": f"postgresql://postgres:{secret}@127.0.0.1:{free_port()}/postgres",
        "password": f"postgresql://ecpctl_pw_test:{secret}@127.0.0.1:{postgres_server.port}/postgres",
        "malformed": f"host=127.0.0.1 password={secret} junk",
        "host": f"host=no-such-host.invalid port=5432 user=postgres password={secret} connect_timeout=3",
    }[case]
    monkeypatch.setenv(DSN_ENV, dsn)
    _, diags = configure()
    assert len(diags) == 1
    text = diags[0].one_line()
    assert "\n" not in text and secret not in text
    assert "providers.postgres.dsnEnv" in text and DSN_ENV in text
    expect = {"port": "Connection refused", "password": "password authentication failed",
              "malformed": "not a valid Postgres connection string", "host": "no-such-host.invalid"}
    assert expect[case] in text, text
    with pytest.raises(ProviderNotConfigured) as err:
        ProviderSet({"postgres": {}}).get("postgres")
    assert secret not in str(err.value)


def test_admin_without_privileges_gets_errors_that_name_the_privilege(postgres_server, monkeypatch):
    login_role(postgres_server, "ecpctl_weak", "weak-pass-123")
    monkeypatch.setenv(DSN_ENV, postgres_server.dsn("postgres", "ecpctl_weak", "weak-pass-123"))
    p, diags = configure()
    assert [d.severity.value for d in diags] == ["warning"]
    assert "CREATEROLE" in diags[0].summary
    tid = new_tenant_id()
    role = role_resource(tid, f"{tid}_app", password="a-generated-password-1234")
    with pytest.raises(ProviderError) as err:
        p.apply(ApplyRequest(desired=role, prior=None, live=None))
    assert err.value.address == role.address and not err.value.retryable
    assert err.value.reason == ("CREATE ROLE: permission denied to create role: "
                                "the admin role needs CREATEROLE (or to be a superuser)")
    db = Resource(addr=Address(tid, "postgres", "database", tid), attributes={"name": tid, "owner": "ecpctl_weak",
                                                    "encoding": "UTF8", "locale": "C",
                                                    "connection_limit": -1})
    with pytest.raises(ProviderError, match=r"^.*CREATE DATABASE: permission denied to create "
                                            r"database: the admin role needs CREATEDB"):
        p.apply(ApplyRequest(desired=db, prior=None, live=None))
    p.close()


def test_a_non_superuser_admin_with_createrole_and_createdb_manages_a_whole_tenant(
        postgres_server, monkeypatch, tmp_path):
    """Managed Postgres services give no superuser: CREATEROLE + CREATEDB must be enough
    (pgcrypto is a trusted extension)."""
    login_role(postgres_server, "ecpctl_admin", "admin-pass-123", "CREATEROLE CREATEDB")
    monkeypatch.setenv(DSN_ENV, postgres_server.dsn("postgres", "ecpctl_admin", "admin-pass-123"))
    tid = new_tenant_id()
    w = World(tmp_path / "specs", [tid], schemas=["analytics"])
    try:
        w.apply()
        assert not w.plan().has_changes
        password = w.state(addr(tid, "role", f"{tid}_app")).attributes["password"]
        with psycopg.connect(postgres_server.dsn(tid, f"{tid}_app", password)) as conn:
            conn.execute(sql.SQL("CREATE TABLE {}.t (x int)").format(sql.Identifier(tid)))
    finally:
        w.destroy()
    with postgres_server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s",
                            (f"{tid}%",)).fetchone()[0] == 0


def test_no_password_in_plans_logs_errors_or_the_server_log(
        admin_dsn, postgres_server, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with postgres_server.connect() as conn:         # the server logs every statement it runs
        conn.execute("ALTER ROLE postgres SET log_statement = 'all'")
    texts: list[str] = []
    tid = new_tenant_id()
    w = World(tmp_path / "specs", [tid])
    try:
        role = addr(tid, "role", f"{tid}_app")
        passwords: list[str] = []
        for replace in ((), (role,)):
            p = w.plan(replace=replace)
            out = io.StringIO()
            render_plan(p, Console(file=out, width=200, color_system=None))
            texts += [out.getvalue(), render_plan_json(p)]
            texts += [str(d) for d in p.diagnostics]
            events = Recorder()
            apply(w.ps, p, w.store, events=events)
            texts += events.messages
            passwords.append(w.state(role).attributes["password"])
        assert passwords[0] != passwords[1]
        # an error while a password is being set (a new one: prior=None sets it again)
        bad = role_resource(tid, f"{tid}_app", password=passwords[1],
                            config={"no_such_setting_x": "1"})
        with pytest.raises(ProviderError) as err:
            w.provider.apply(ApplyRequest(desired=bad, prior=None, live=None))
        assert "no_such_setting_x" in str(err.value)
        texts.append(str(err.value))
        w.destroy()
    finally:
        with postgres_server.connect() as conn:
            conn.execute("ALTER ROLE postgres RESET log_statement")
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    server_log = postgres_server.log_path.read_text(errors="replace")
    assert "CREATE ROLE" in server_log and "SCRAM-SHA-256$" in server_log   # the log did record
    for secret in passwords:
        assert len(secret) >= 20
        for t in texts + [server_log]:
            assert secret not in t
