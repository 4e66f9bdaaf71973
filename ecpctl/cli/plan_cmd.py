"""`ecpctl plan`: show what apply would change, as text or one JSON document, and save it with -o."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.options import (LockArgs, PlanScope, ProviderArgs, full_option, json_option,
                                kube_options,
                                lock_options, parallelism_option, path_argument, replace_option,
                                scope_options, strict_option)
from ecpctl.cli.output import COMMAND_META, console, print_diagnostics


@dataclass(frozen=True)
class PlanArgs:
    path: Path
    scope: PlanScope
    providers: ProviderArgs
    lock: LockArgs
    as_json: bool = False
    out: Path | None = None
    detailed_exitcode: bool = False
    full: bool = False

    @classmethod
    def parse(cls, ctx: click.Context) -> PlanArgs:
        p = ctx.params
        return cls(path=p["path"], scope=PlanScope.parse(p), providers=ProviderArgs.parse(p),
                   lock=LockArgs.parse(p), as_json=p["as_json"], out=p["out"],
                   detailed_exitcode=p["detailed_exitcode"], full=p["full"])


@click.command("plan")
@path_argument
@scope_options
@parallelism_option
@replace_option
@strict_option
@kube_options
@lock_options
@click.option("--destroy", is_flag=True, help="Plan to destroy everything in state (in scope).")
@json_option("the plan")
@full_option
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="Save the plan to FILE for a later `ecpctl apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there are no changes, 2 when there are, 1 on error.")
@click.pass_context
def plan_cmd(ctx: click.Context, **_: object) -> None:
    """Show what apply would change for the tenants in PATH (a file or a directory).

    The state is read under the workspace lock (--no-lock skips it) and never created: a plan in
    a directory without state compares with an empty one.
    """
    ctx.meta[COMMAND_META] = "plan"
    code = run_plan(ctx.obj, PlanArgs.parse(ctx))
    if code:
        sys.exit(code)


def run_plan(obj: CliContext, args: PlanArgs) -> int:
    """Plan, print through the chosen view, save; the exit code (0, 1 on errors, 2 for
    --detailed-exitcode with changes)."""
    from ecpctl.cli.planning import make_plan, save_plan, state_lock
    from ecpctl.kernel import has_errors
    if args.as_json:
        from ecpctl.views.plan_json import PlanJsonView
        view = PlanJsonView("plan", report=print_diagnostics)
    else:
        from ecpctl.views.plan_human import PlanHumanView
        view = PlanHumanView(console(), print_diagnostics, full=args.full)
    with state_lock(obj, args.lock, "plan") as lock:
        planned = make_plan(obj, args.path, args.scope, args.providers, lock, read_only=True)
    planned.providers.close()
    plan = planned.plan
    if has_errors(plan.diagnostics):
        view.plan(plan)
        return 1        # and no plan file: a plan with errors cannot be applied
    if args.out is not None:
        save_plan(obj, plan, args.out)
    view.plan(plan, saved_to=args.out)
    return 2 if args.detailed_exitcode and plan.has_changes else 0
