"""Commands on spec files alone (no live systems, no state): validate, calc, schema.

None of them opens the state store or writes anything, except `schema` into its --out directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.options import json_option
from ecpctl.cli.report import choose, name

SPEC_PATH = click.argument("path", type=click.Path(path_type=str))


@dataclass(frozen=True)
class ValidateArgs:
    path: str
    as_json: bool


@click.command("validate")
@SPEC_PATH
@json_option("the result, one diagnostic per problem")
@click.pass_context
def validate_cmd(ctx: click.Context, **opts) -> None:
    """Check the spec files at PATH (a file or a directory) and report every problem.

    Prints one line per problem as file:line:col: field: message and exits 1 when there are any;
    with --json, one diagnostic per problem in the JSON document."""
    validate(ctx, ValidateArgs(**opts))


def validate(ctx: click.Context, args: ValidateArgs) -> None:
    from ecpctl.config import load_config
    from ecpctl.expand import ExpandContext, SecretSource, expand_config
    from ecpctl.sizing import size_all
    from ecpctl.views.validate import Validated, ValidTenant, validate_human, validate_json

    view = choose(ctx, "validate", args.as_json, human=validate_human, body=validate_json)
    cfg = load_config(args.path)
    # expanded as plan would (no state: fresh secrets, never shown): its errors (an alert
    # condition Prometheus refuses) fail validate and its warnings are reported here too
    expanded = expand_config(cfg.tenants, size_all(cfg), ExpandContext(cfg.project, SecretSource()))
    view.show(Validated(path=args.path, project_file=cfg.project_file,
                        tenants=tuple(ValidTenant(lt.id, lt.file) for lt in cfg.tenants)),
              (*cfg.warnings, *expanded.diagnostics))


@dataclass(frozen=True)
class CalcArgs:
    path: str
    as_json: bool
    explain: bool = False


@click.command("calc")
@SPEC_PATH
@click.option("--explain", is_flag=True,
              help="Show what each service adds to the quota tier and which service pushes the "
                   "tenant past the tier below.")
@json_option("the figures")
@click.pass_context
def calc_cmd(ctx: click.Context, **opts) -> None:
    """Size every tenant at PATH: replicas, CPU, memory, GPUs, preset and monthly cost."""
    calc(ctx, CalcArgs(**opts))


def calc(ctx: click.Context, args: CalcArgs) -> None:
    from ecpctl.config import load_config
    from ecpctl.sizing import GpuShares, size_tenant
    from ecpctl.sizing_explain import explain
    from ecpctl.views.calc import Calculated, calc_human, calc_json

    view = choose(ctx, "calc", args.as_json, human=calc_human, body=calc_json)
    cfg = load_config(args.path)
    price, shares = cfg.project.spec.price, GpuShares.from_project(cfg.project)
    explained = tuple(explain(lt.tenant, shares=shares) for lt in cfg.tenants) \
        if args.explain else None
    view.show(Calculated(path=args.path, digest=cfg.digest, price=price,
                         sizings=tuple((lt.file, size_tenant(lt.tenant, price, shares=shares))
                                       for lt in cfg.tenants),
                         explained=explained),
              cfg.warnings)


@dataclass(frozen=True)
class SchemaArgs:
    out_dir: Path


@click.command("schema")
@click.option("--out", "out_dir", default="schemas", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write tenant.schema.json and project.schema.json into.")
@click.pass_context
def schema_cmd(ctx: click.Context, **opts) -> None:
    """Write the JSON Schema of the spec files (for editors and CI) into --out."""
    schema(ctx, SchemaArgs(**opts))


def schema(ctx: click.Context, args: SchemaArgs) -> None:
    from ecpctl.kernel import EcpctlError
    from ecpctl.schema_gen import write_schemas

    name(ctx, "schema")
    try:
        written = write_schemas(args.out_dir)
    except OSError as exc:
        raise EcpctlError(f"cannot write schemas to {args.out_dir}: {exc.strerror or exc}") from exc
    for target in written:
        click.echo(f"Wrote {target.as_posix()}")
