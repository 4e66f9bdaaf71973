"""The kill matrix: ecpctl killed with SIGKILL at seeded random moments of every kind of apply, and
the servers under it killed mid-apply, on the real control plane and the real Postgres; after the
next command the live systems are judged by an independent checker (tests/integration/live_check.py:
kubectl and the Postgres catalogs, never ecpctl's plan or state), then the plan must say "No
changes.".

Paths: create, in-place update of many objects, replace (with a kill between a delete and its
create), delete of tenants removed from the spec, destroy, a `-replace` password rotation, the
tenants' Postgres killed with SIGKILL, and the state database on Postgres killed with SIGKILL.
Each path gets KILLS kills (at least 10), alternating readiness waiting (the default) and
`--no-wait`; its first seed holds the state writes so that the kill lands after an object was
made live and before it was recorded, and the next plan must take it over. The figures (kills per
path, how many hit that window) are printed at the end of the module.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator

import pytest

from tests.bench.generate import write_light_tenant
from tests.integration.faults_matrix import (
    Path_,
    cp,  # noqa: F401 - the module's control plane
    kill_cycle,
    next_kill,
    tally,
    watch_deleted,
)
from tests.integration.faults_support import fleet_factory, sigkill_postgres  # noqa: F401
from tests.integration.live_check import LiveCheck

pytestmark = [pytest.mark.integration, pytest.mark.kube, pytest.mark.postgres]

SEED = 20250310
KILLS = int(os.environ.get("ECPCTL_FAULT_KILLS", "10"))   # fewer only when debugging


def _private_postgres():
    from tests.testenv.postgres import PostgresServer, PostgresUnavailable, find_bindir
    try:
        bindir = find_bindir()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    return PostgresServer(bindir=bindir)


@pytest.fixture(scope="module")
def tenant_pg() -> Iterator:
    """The tenants' Postgres, of this module alone: one path kills it."""
    with _private_postgres() as server:
        yield server


def make_path(name: str, cp, pg, fleet_factory, tenants: list[str], span: float,
              state_url: str | None = None) -> Path_:
    fleet = fleet_factory(cp, pg.admin_dsn, tenants, name=name, state_url=state_url)
    checker = LiveCheck.for_control_plane(cp, pg.admin_dsn, env={"ECPCTL_POSTGRES_DSN": pg.admin_dsn})
    return Path_(name, fleet, checker, set(tenants), random.Random(f"{SEED}-{name}"), span)


def apply_cmd(p: Path_, *extra: str) -> list[str]:
    return ["apply", str(p.fleet.spec), "--auto-approve", *extra]


def killed(p: Path_) -> int:
    return tally(p.name).kills


# --- create, delete, destroy ---------------------------------------------------------------------

def test_kills_during_create_delete_and_destroy(cp, tenant_pg, fleet_factory):
    """One tenant at a time: created (killed), then removed from the spec (killed) or destroyed
    (killed), in turn, until each path has KILLS kills. Once creates have theirs, a plain apply
    makes the tenant that the next delete or destroy starts from."""
    create = make_path("create", cp, tenant_pg, fleet_factory, [], span=2.5)
    delete = Path_("delete", create.fleet, create.checker, create.universe,
                   random.Random(f"{SEED}-delete"), span=2.5)
    destroy = Path_("destroy", create.fleet, create.checker, create.universe,
                    random.Random(f"{SEED}-destroy"), span=2.5)
    fleet = create.fleet
    i = 0
    while min(killed(create), killed(delete), killed(destroy)) < KILLS:
        assert i < KILLS * 4, "too many commands ended before their kill time"
        name = f"c{i:02d}"
        create.universe.add(name)
        write_light_tenant(fleet.spec, name)
        if killed(create) < KILLS:
            kill_cycle(create, apply_cmd(create), **next_kill(create))
        else:
            fleet.ok(*apply_cmd(create), "--no-wait")
        if killed(delete) <= killed(destroy) and killed(delete) < KILLS:
            (fleet.spec / f"{name}.yaml").unlink()
            kill_cycle(delete, apply_cmd(delete), **next_kill(delete))
        else:
            kill_cycle(destroy, ["destroy", str(fleet.spec), "--auto-approve"], destroy=True,
                       **next_kill(destroy))
            (fleet.spec / f"{name}.yaml").unlink()
        i += 1


# --- update, replace, rotation -------------------------------------------------------------------

TENANTS = ["u0", "u1"]


def _reshape(p: Path_, i: int) -> None:
    """Every tenant's sessions, display name and SLO change: Deployments, quotas, PDBs, rules,
    ConfigMaps and the Namespace are updated in place."""
    for t in TENANTS:
        write_light_tenant(p.fleet.spec, t, chatbot=10 if i % 2 else 30)
        f = p.fleet.spec / f"{t}.yaml"
        text = f.read_text().replace(f"Bench {t}", f"Bench {t} v{i}")
        f.write_text(text.replace('"99.5%"', '"99.9%"') if i % 2 == 0 else text)


def test_kills_during_update_replace_and_rotation(cp, tenant_pg, fleet_factory):
    update = make_path("update", cp, tenant_pg, fleet_factory, TENANTS, span=3.0)
    update.fleet.ok(*apply_cmd(update))
    replace = Path_("replace", update.fleet, update.checker, update.universe,
                    random.Random(f"{SEED}-replace"), span=3.0)
    rotate = Path_("rotate-password", update.fleet, update.checker, update.universe,
                   random.Random(f"{SEED}-rotate"), span=1.5)
    i = 0
    while killed(update) < KILLS:
        _reshape(update, i)
        kill_cycle(update, apply_cmd(update), **next_kill(update))
        i += 1
    replaced = [f"tenant.{t}.kubernetes.{a}" for t in TENANTS for a in (
        "apps/v1.Deployment.chatbot", "v1.Service.chatbot", "v1.ConfigMap.ecp-ai-config",
        "monitoring.coreos.com/v1.ServiceMonitor.ecp-ai-services")]
    flags = [x for a in replaced for x in ("-replace", a)]
    def between_delete_and_create() -> None:
        gone = cp.kubectl("get", "deployment", "chatbot", "-n", "ecp-ai-u0", check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr, \
            "the kill did not land between the delete and the create:\n" + gone.stdout

    while killed(replace) < KILLS:
        # the second kill comes the moment the API server reports a replaced object deleted
        second = killed(replace) == 1
        trigger = watch_deleted(
            cp, "/apis/apps/v1/namespaces/ecp-ai-u0/deployments/chatbot") if second else None
        kill_cycle(replace, apply_cmd(replace, *flags), trigger=trigger, recover=apply_cmd(replace),
                   after_kill=between_delete_and_create if second else None, **next_kill(replace))
    roles = [x for t in TENANTS for x in ("-replace", f"tenant.{t}.postgres.role.{t}_app")]
    while killed(rotate) < KILLS:
        # recovered by running the interrupted rotation again, as its operator would
        kill_cycle(rotate, apply_cmd(rotate, *roles), **next_kill(rotate))


# --- servers killed under a running apply --------------------------------------------------------

def _restart_after_crash(server, rng: random.Random):
    def victim() -> None:
        sigkill_postgres(server)
        time.sleep(rng.uniform(0.2, 1.5))
        server.start()                   # crash recovery from the WAL, same port
    return victim


def _kills_under_a_server(p: Path_, server, prefix: str) -> None:
    """A tenant created per kill; the server is SIGKILLed at a random moment of the apply."""
    i = 0
    while killed(p) < KILLS:
        name = f"{prefix}{i:02d}"
        p.universe.add(name)
        write_light_tenant(p.fleet.spec, name)
        kill_cycle(p, apply_cmd(p), victim=_restart_after_crash(server, p.rng), **next_kill(p))
        i += 1


def test_tenant_postgres_killed_mid_apply(cp, fleet_factory):
    with _private_postgres() as pg:
        _kills_under_a_server(make_path("postgres-sigkill", cp, pg, fleet_factory, [], span=2.0),
                              pg, "p")


def test_state_postgres_killed_mid_apply(cp, tenant_pg, fleet_factory):
    with _private_postgres() as state_pg:
        url = state_pg.create_database("ecpctl_state")
        _kills_under_a_server(make_path("state-db-sigkill", cp, tenant_pg, fleet_factory, [],
                                        span=2.0, state_url=url), state_pg, "s")


# --- the owner mark of a database: written after CREATE DATABASE ---------------------------------

# CREATE DATABASE cannot share a transaction with its COMMENT: a database left without a mark
# has the owner of its owning role, which ecpctl marked first (providers/postgres/marks.py). The
# test holds the advisory lock that ecpctl takes right after CREATE DATABASE (before the REVOKE and
# the mark), so the kill lands in that window every time rather than when a log line is read.
def test_kill_between_create_database_and_its_owner_mark_is_taken_over(cp, tenant_pg, fleet_factory):
    import re

    import psycopg

    from providers.postgres.operations import advisory_key
    p = make_path("db-mark-window", cp, tenant_pg, fleet_factory, ["dm0"], span=1.0)
    with psycopg.connect(tenant_pg.admin_dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key(("database", "dm0")),))
        proc = p.fleet.spawn(*apply_cmd(p), "--no-wait", "--parallelism", "1",
                             env={"ECPCTL_LOG": "info"})
        proc.wait_for(re.compile(r"CREATE DATABASE"), 1, timeout=120)
        deadline = time.monotonic() + 60
        while not holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND NOT granted").fetchone()[0]:
            assert time.monotonic() < deadline, "the apply never waited for the advisory lock"
            time.sleep(0.05)
        proc.kill()
        row = holder.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                             "WHERE datname = 'dm0'").fetchone()
    assert row is not None, "CREATE DATABASE did not run before the kill"
    assert not row[0], f"the owner mark was written before the kill: {row[0]!r}"
    r = p.fleet("apply", str(p.fleet.spec), "--auto-approve", "--no-wait")
    if r.exit_code == 1 and "appears dead" in r.output:
        lock_id = re.search(r"force-unlock (\S+)`", r.output).group(1)
        p.fleet.ok("force-unlock", lock_id, "--yes")
        r = p.fleet("apply", str(p.fleet.spec), "--auto-approve", "--no-wait")
    assert r.exit_code == 0, r.output[-3000:]
    report = p.checker.check(p.fleet.spec, p.universe)
    assert report.ok, str(report)
