"""The owner mark of a Postgres role is written in the role's own transaction (real Postgres): the
role's catalog row and its comment are made by one transaction, and a mark that fails leaves no
role behind, so no kill between CREATE ROLE and COMMENT ON ROLE can leave an unmarked role."""

from __future__ import annotations

import pytest
from psycopg import sql

from ecpctl.kernel import EcpctlError
from ecpctl.kernel.ownership import Owner
from providers.protocol import ApplyRequest, DeleteRequest
from tests.integration.postgres_support import DSN_ENV, new_tenant_id, providers
from tests.integration.test_postgres_provider import role_resource

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

OWNER = Owner("production", "0123456789abcdef0123456789abcdef")


@pytest.fixture
def pg(postgres_server, monkeypatch):
    monkeypatch.setenv(DSN_ENV, postgres_server.admin_dsn)
    ps = providers()
    ps.set_owner(OWNER)
    yield ps.get("postgres")
    ps.close()


def _row_and_comment(server, role: str):
    with server.connect("postgres") as conn:
        return conn.execute(
            "SELECT a.xmin::text, d.xmin::text, d.description FROM pg_catalog.pg_authid a "
            "LEFT JOIN pg_catalog.pg_shdescription d ON d.objoid = a.oid "
            " AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass "
            "WHERE a.rolname = %s", (role,)).fetchone()


def test_the_role_and_its_mark_are_one_transaction(pg, postgres_server):
    tid = new_tenant_id()
    role = role_resource(tid, f"{tid}_app")
    state = pg.apply(ApplyRequest(desired=role, prior=None, live=None)).state
    try:
        row_xid, comment_xid, text = _row_and_comment(postgres_server, f"{tid}_app")
        assert text == OWNER.comment()
        assert row_xid == comment_xid         # inserted by the same transaction
    finally:
        pg.delete(DeleteRequest(prior=state))


def test_a_mark_that_fails_leaves_no_role(pg, postgres_server):
    tid = new_tenant_id()
    name = f"{tid}_app"
    ops, _ = pg._need()
    failing = sql.SQL("COMMENT ON ROLE {} IS 'x'").format(sql.Identifier(f"{tid}_nobody"))
    with pytest.raises(EcpctlError) as info:
        ops.apply_role(role_resource(tid, name).attributes, prior_attrs=None, replace=False,
                       mark=failing)
    assert "COMMENT ON ROLE" in str(info.value) and "does not exist" in str(info.value)
    assert _row_and_comment(postgres_server, name) is None
    with postgres_server.connect("postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None
