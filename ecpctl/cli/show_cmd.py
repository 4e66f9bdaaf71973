"""`ecpctl show`: a saved plan, or the current state, as text or one JSON document. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.options import full_option, json_option
from ecpctl.cli.output import COMMAND_META, console, print_diagnostics
from ecpctl.kernel import EcpctlError


@dataclass(frozen=True)
class ShowArgs:
    planfile: Path | None = None
    as_json: bool = False
    full: bool = False

    @classmethod
    def parse(cls, ctx: click.Context) -> ShowArgs:
        return cls(planfile=ctx.params["planfile"], as_json=ctx.params["as_json"],
                   full=ctx.params["full"])


@click.command("show")
@click.argument("planfile", required=False, type=click.Path(exists=True, dir_okay=False,
                                                            path_type=Path))
@json_option("the plan or the state")
@full_option
@click.pass_context
def show_cmd(ctx: click.Context, **_: object) -> None:
    """Print a saved plan (PLANFILE), or the workspace's state when none is given.

    Sensitive values are redacted. Nothing is written: no state database is created.
    """
    ctx.meta[COMMAND_META] = "show"
    run_show(ctx.obj, ShowArgs.parse(ctx))


def run_show(obj: CliContext, args: ShowArgs) -> None:
    if args.planfile is not None:
        _show_plan(obj, args)
    else:
        _show_state(obj, args)


def _show_plan(obj: CliContext, args: ShowArgs) -> None:
    from ecpctl.cli.planning import is_plan_file, load_plan
    if not is_plan_file(args.planfile):
        raise EcpctlError(f"{args.planfile}: not an ecpctl saved plan (made by `ecpctl plan -o FILE`)")
    plan = load_plan(obj, args.planfile)
    if args.as_json:
        from ecpctl.views.plan_json import PlanJsonView
        PlanJsonView("show", report=print_diagnostics).plan(plan)
    else:
        from ecpctl.views.plan_human import PlanHumanView
        PlanHumanView(console(), print_diagnostics, full=args.full).plan(plan)


def _show_state(obj: CliContext, args: ShowArgs) -> None:
    from ecpctl.cli.planning import open_reader
    # encrypted values stay sealed: every sensitive path is redacted, so no key is needed
    snap = open_reader(obj).snapshot(obj.workspace, decrypt=False)
    if args.as_json:
        from ecpctl.views.envelope import dumps, envelope
        from ecpctl.views.state_view import state_body
        click.echo(dumps(envelope("show", state_body(obj.workspace, snap.lineage, snap.serial,
                                                     snap.resources))), nl=False)
    else:
        from ecpctl.views.state_view import render_state
        render_state(obj.workspace, snap.serial, snap.resources, console())
