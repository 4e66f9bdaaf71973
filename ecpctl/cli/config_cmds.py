"""Commands on spec files alone (no live systems, no state): validate, calc, schema."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
from rich import box
from rich.table import Table

from ecpctl.cli.output import console, print_diagnostics
from ecpctl.kernel.quantity import format_cpu, format_memory

FORMAT_VERSION = 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.command("validate")
@click.argument("path", type=click.Path(path_type=str))
def validate_cmd(path: str) -> None:
    """Check the spec files at PATH (a file or a directory) and report every problem.

    Prints one line per problem as file:line:col: field: message and exits 1 when there are any.
    """
    from ecpctl.config import load_config

    cfg = load_config(path)
    if cfg.warnings:
        print_diagnostics(cfg.warnings)
    projects = 1 if cfg.project_file else 0
    console().print(f"Success! {_plural(len(cfg.tenants), 'tenant')}, "
                    f"{_plural(projects, 'project')} in {path} are valid.", markup=False)


@click.command("calc")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (format_version 1).")
def calc_cmd(path: str, as_json: bool) -> None:
    """Size every tenant at PATH: replicas, CPU, memory, GPUs, preset and monthly cost."""
    from ecpctl.config import load_config
    from ecpctl.sizing import size_tenant

    cfg = load_config(path)
    price = cfg.project.spec.price
    sizings = [(lt, size_tenant(lt.tenant, price)) for lt in cfg.tenants]
    total = sum((s.monthly_cost for _, s in sizings), Decimal("0.00"))
    if as_json:
        doc = {
            "format_version": FORMAT_VERSION,
            "source": path,
            "digest": cfg.digest,
            "currency": price.currency,
            "price": {"hours_per_month": str(price.hoursPerMonth),
                      "cpu_core_hour": str(price.cpuCoreHour),
                      "memory_gib_hour": str(price.memoryGiBHour),
                      "gpu_hour": {k: str(v) for k, v in sorted(price.gpuHour.items())}},
            "tenants": [{"file": lt.file, **s.to_dict()} for lt, s in sizings],
            "total": {
                "monthly_cost": str(total),
                "cpu_request_m": sum(s.total_cpu_request_m for _, s in sizings),
                "cpu_limit_m": sum(s.total_cpu_limit_m for _, s in sizings),
                "memory_request_mi": sum(s.total_memory_request_mi for _, s in sizings),
                "memory_limit_mi": sum(s.total_memory_limit_mi for _, s in sizings),
                "gpus": sum(s.total_gpu for _, s in sizings),
            },
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    con = console()
    if not con.is_terminal:
        con.width = max(con.width, 120)   # piped or captured: nothing to wrap for
    if cfg.warnings:
        print_diagnostics(cfg.warnings)
    if not sizings:
        con.print(f"No tenants in {path}.", markup=False)
        return
    con.print(_summary_table(sizings, total, price.currency))
    for lt, s in sizings:
        con.print()
        con.print(_tenant_table(lt, s))


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _table(title: str, caption: str | None = None) -> Table:
    return Table(title=title, caption=caption, title_justify="left", caption_justify="left",
                 show_footer=True, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)


def _req_lim(req: str, lim: str) -> str:
    return f"{req}/{lim}"


def _summary_table(sizings, total: Decimal, currency: str) -> Table:
    auto = any(s.requested_preset == "auto" for _, s in sizings)
    t = _table("Tenants", "* preset chosen by auto" if auto else None)
    t.add_column("tenant", footer="total", no_wrap=True)
    t.add_column("preset")
    t.add_column("replicas", justify="right",
                 footer=str(sum(s.total_replicas for _, s in sizings)))
    t.add_column("CPU req/lim", justify="right", footer=_req_lim(
        format_cpu(sum(s.total_cpu_request_m for _, s in sizings)),
        format_cpu(sum(s.total_cpu_limit_m for _, s in sizings))))
    t.add_column("memory req/lim", justify="right", footer=_req_lim(
        format_memory(sum(s.total_memory_request_mi for _, s in sizings)),
        format_memory(sum(s.total_memory_limit_mi for _, s in sizings))))
    t.add_column("GPU", justify="right", footer=str(sum(s.total_gpu for _, s in sizings)))
    t.add_column(f"{currency}/month", justify="right", footer=_money(total))
    for _, s in sizings:
        preset = s.preset if s.requested_preset != "auto" else f"{s.preset}*"
        t.add_row(s.tenant_id, preset, str(s.total_replicas),
                  _req_lim(format_cpu(s.total_cpu_request_m), format_cpu(s.total_cpu_limit_m)),
                  _req_lim(format_memory(s.total_memory_request_mi),
                           format_memory(s.total_memory_limit_mi)),
                  str(s.total_gpu), _money(s.monthly_cost))
    return t


def _tenant_table(lt, s) -> Table:
    quota = (f"quota {s.preset}: {format_cpu(s.cpu_limit_m)} CPU, {format_memory(s.memory_limit_mi)}, "
             f"{_plural(s.gpu_limit, 'GPU')} ({s.gpu_type}), {s.pods_limit} pods")
    ha = "HA: at least 2 replicas each" if s.ha else "no HA minimum"
    t = _table(f"{s.tenant_id}  ({lt.file})", f"{quota}; {ha}")
    t.add_column("service", footer="total", no_wrap=True)
    t.add_column("sessions", justify="right", footer=str(sum(x.sessions for x in s.services)))
    t.add_column("replicas (max)", justify="right", footer=str(s.total_replicas))
    t.add_column("CPU req/lim", justify="right",
                 footer=_req_lim(format_cpu(s.total_cpu_request_m), format_cpu(s.total_cpu_limit_m)))
    t.add_column("memory req/lim", justify="right",
                 footer=_req_lim(format_memory(s.total_memory_request_mi),
                                 format_memory(s.total_memory_limit_mi)))
    t.add_column("GPU", justify="right", footer=str(s.total_gpu))
    t.add_column(f"{s.currency}/month", justify="right", footer=_money(s.monthly_cost))
    for x in s.services:
        t.add_row(x.service, str(x.sessions), f"{x.replicas} ({x.max_replicas})",
                  _req_lim(format_cpu(x.total_cpu_request_m), format_cpu(x.total_cpu_limit_m)),
                  _req_lim(format_memory(x.total_memory_request_mi),
                           format_memory(x.total_memory_limit_mi)),
                  str(x.total_gpu), _money(x.monthly_cost))
    return t


@click.command("schema")
@click.option("--out", "out_dir", default="schemas", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write tenant.schema.json and project.schema.json into.")
def schema_cmd(out_dir: Path) -> None:
    """Write the JSON Schema of the spec files (for editors and CI) into --out."""
    from ecpctl.kernel import EcpctlError
    from ecpctl.schema_gen import write_schemas

    try:
        written = write_schemas(out_dir)
    except OSError as exc:
        raise EcpctlError(f"cannot write schemas to {out_dir}: {exc.strerror or exc}") from exc
    for target in written:
        click.echo(f"Wrote {target.as_posix()}")


def register(cli: click.Group) -> None:
    for command in (validate_cmd, calc_cmd, schema_cmd):
        cli.add_command(command)
