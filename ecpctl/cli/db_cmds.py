"""`ecpctl db backup` and `ecpctl db restore`: a tenant database dumped to, or restored from, a file
on the operator's machine through the Postgres provider's connection (for emergencies, disaster
recovery and tests; the scheduled backups are the tenants' CronJobs)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.output import COMMAND_META, console
from ecpctl.kernel import EcpctlError

SHOWN = 5          # objects named in a message before "and N more"


@dataclass(frozen=True)
class TenantDb:
    tenant: str
    database: str
    settings: dict


def _tenant_db(spec_path: Path, tenant: str, workspace: str) -> TenantDb:
    from ecpctl.config import load_config
    from ecpctl.engine import provider_settings
    from ecpctl.expand.context import ExpandContext, SecretSource
    from ecpctl.expand.postgres import names

    from ecpctl.workspaces import for_workspace
    config = for_workspace(load_config(spec_path), workspace)
    lt = next((lt for lt in config.tenants if lt.tenant.metadata.name == tenant), None)
    if lt is None:
        known = [t.tenant.metadata.name for t in config.tenants]
        raise EcpctlError(f"no tenant {tenant} in {spec_path}"
                          + (f" (it has: {', '.join(known)})" if known else ""))
    if not lt.tenant.spec.database.enabled:
        raise EcpctlError(f"tenant {tenant} has no database (spec.database.enabled: false)")
    settings = provider_settings(config).get("postgres")
    if settings is None:
        raise EcpctlError(f"the Project in {spec_path} configures no postgres provider "
                          "(spec.providers.postgres)")
    database = names(ExpandContext(config.project, SecretSource()), tenant)["database"]
    return TenantDb(tenant, database, settings)


def _connection(t: TenantDb):
    from providers.postgres.dump import Connection
    return Connection(t.settings)


def _listing(objs, limit: int = SHOWN) -> str:
    names = [str(o) for o in objs]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _emit(as_json: bool, command: str, body: dict, text: str) -> None:
    if as_json:
        from ecpctl.views.envelope import dumps, envelope
        click.echo(dumps(envelope(command, body)), nl=False)
    else:
        console().print(text, markup=False)


SPEC_OPTION = click.option("-p", "--path", "spec_path", default=".", show_default=True,
                           type=click.Path(exists=True, path_type=Path),
                           help="Spec files (a file or a directory) that declare the tenant.")
JSON = click.option("--json", "as_json", is_flag=True,
                    help="Print one JSON document (docs/json-output.md), also on failure.")


@click.group("db")
def db_group() -> None:
    """Back up and restore tenant databases with pg_dump and pg_restore."""


@db_group.command("backup")
@click.argument("tenant")
@click.option("-o", "--out", "out", default=None, type=click.Path(path_type=Path),
              help="File to write (default: <tenant>-<UTC time>.dump in the current directory).")
@SPEC_OPTION
@JSON
@click.pass_context
def backup_cmd(ctx: click.Context, tenant: str, out: Path | None, spec_path: Path,
               as_json: bool) -> None:
    """Dump TENANT's database to a file (pg_dump custom format, compressed)."""
    from providers.postgres import dump

    ctx.meta[COMMAND_META] = "db backup"
    t = _tenant_db(spec_path, tenant, ctx.obj.workspace)
    out = out or Path(f"{tenant}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.dump")
    if out.is_dir():
        raise EcpctlError(f"{out} is a directory; name a file with -o")
    conn = _connection(t)
    size = dump.dump(conn, t.database, out)
    objs = dump.objects_in(dump.contents(conn, out))
    _emit(as_json, "db backup",
          {"tenant": tenant, "database": t.database, "file": str(out), "bytes": size,
           "objects": [str(o) for o in objs]},
          f"Wrote {out} ({size:,} bytes): database {t.database}, {dump.summary(objs)}.")


@db_group.command("restore")
@click.argument("tenant")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True,
              help="Restore into a database that is not empty: the archive's objects that exist "
                   "are dropped and restored; the others are left as they are.")
@SPEC_OPTION
@JSON
@click.pass_context
def restore_cmd(ctx: click.Context, tenant: str, file: Path, yes: bool, spec_path: Path,
                as_json: bool) -> None:
    """Restore TENANT's database from FILE (made by `db backup` or the backup CronJob).

    Run `ecpctl apply` first: it makes the roles, database, schemas, grants and extensions, which
    the restore keeps. Refuses a database that is not empty unless --yes, and says what it would
    replace. The restore runs in one transaction: on any error nothing changes."""
    from providers.postgres import dump
    from providers.postgres.connection import DatabaseMissing

    ctx.meta[COMMAND_META] = "db restore"
    t = _tenant_db(spec_path, tenant, ctx.obj.workspace)
    dump.check_archive(file)
    conn = _connection(t)
    entries = dump.contents(conn, file)
    try:
        plan = dump.preview(conn, t.database, entries)
    except DatabaseMissing as exc:
        raise EcpctlError(f"{exc}: run `ecpctl apply` for tenant {tenant} first (it makes the "
                          "database the restore goes into)") from exc
    if not plan.empty and not yes:
        parts = []
        if plan.replaced:
            parts.append(f"would replace {len(plan.replaced)} existing object"
                         f"{'' if len(plan.replaced) == 1 else 's'} ({_listing(plan.replaced)})")
        if plan.kept:
            parts.append(f"would keep {len(plan.kept)} not in the archive ({_listing(plan.kept)})")
        raise EcpctlError(f"database {t.database} is not empty: restoring {file} "
                          + " and ".join(parts) + "; run again with --yes to restore over it")
    dump.restore(conn, t.database, file, entries)
    _emit(as_json, "db restore",
          {"tenant": tenant, "database": t.database, "file": str(file),
           "restored": [str(o) for o in plan.in_archive],
           "replaced": [str(o) for o in plan.replaced], "kept": [str(o) for o in plan.kept]},
          f"Restored {file} into database {t.database}: {dump.summary(plan.in_archive)}"
          + (f", {len(plan.replaced)} replaced" if plan.replaced else "")
          + (f", {len(plan.kept)} left as they were" if plan.kept else "") + ".")
