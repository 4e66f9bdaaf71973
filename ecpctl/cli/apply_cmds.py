"""`ecpctl apply` and `ecpctl destroy`: plan (or read a saved plan), show it, ask, walk it.

With `--json` both stream one JSON object per line as they go (ecpctl/views/apply_json.py);
failures end the stream with `diagnostic` messages, never with a second kind of document.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.key_notice import unencrypted_secrets
from ecpctl.cli.options import (LockArgs, PlanScope, ProviderArgs, apply_options, full_option,
                                given, json_option, kube_options, lock_options, parallelism_option,
                                path_argument, replace_option, scope_options, strict_option)
from ecpctl.cli.output import COMMAND_META, console, error_diagnostics, print_diagnostics
from ecpctl.kernel import EcpctlError

# options that shape a plan: a saved plan is applied exactly as saved, so they are refused with it
_PLAN_SHAPING = (("targets", "--target"), ("excludes", "--exclude"), ("replace", "--replace"),
                 ("destroy", "--destroy"), ("refresh", "--refresh/--no-refresh"),
                 ("adopt", "--adopt"), ("strict", "--strict"))


@dataclass(frozen=True)
class ApplyArgs:
    path: Path
    scope: PlanScope
    providers: ProviderArgs
    lock: LockArgs
    auto_approve: bool = False
    as_json: bool = False
    full: bool = False
    plan_shaping: tuple[str, ...] = ()    # plan-shaping options the user typed
    timeout: float = 1800.0               # the whole apply (--timeout)

    @classmethod
    def parse(cls, ctx: click.Context, *, destroy: bool = False) -> ApplyArgs:
        p = ctx.params
        return cls(path=p["path"], scope=PlanScope.parse(p, destroy=destroy),
                   providers=ProviderArgs.parse(p), lock=LockArgs.parse(p),
                   auto_approve=p["auto_approve"], as_json=p["as_json"], full=p["full"],
                   timeout=float(p["timeout"]),
                   plan_shaping=tuple(flag for name, flag in _PLAN_SHAPING
                                      if name in p and given(ctx, name)))


@click.command("apply")
@path_argument
@scope_options
@parallelism_option
@replace_option
@strict_option
@kube_options
@lock_options
@apply_options
@click.option("--destroy", is_flag=True, help="Destroy instead (the same as `ecpctl destroy`).")
@json_option("progress, one object per line,")
@full_option
@click.pass_context
def apply_cmd(ctx: click.Context, **_: object) -> None:
    """Apply the tenants in PATH, or a saved plan file made by `plan -o`.

    A saved plan is applied exactly as saved: options that would shape a new plan (--target,
    --exclude, --replace, --destroy, --refresh) are refused with it. --json needs --auto-approve
    or a saved plan, since it never prompts.
    """
    ctx.meta[COMMAND_META] = "apply"
    _run(ctx, ApplyArgs.parse(ctx))


@click.command("destroy")
@path_argument
@scope_options
@parallelism_option
@kube_options
@lock_options
@apply_options
@json_option("progress, one object per line,")
@full_option
@click.pass_context
def destroy_cmd(ctx: click.Context, **_: object) -> None:
    """Destroy everything ecpctl manages for the tenants (all of state, or --target)."""
    ctx.meta[COMMAND_META] = "destroy"
    _run(ctx, ApplyArgs.parse(ctx, destroy=True))


def _run(ctx: click.Context, args: ApplyArgs) -> None:
    if args.as_json:
        from ecpctl.views.apply_json import ApplyJsonView
        view = ApplyJsonView(report=print_diagnostics)
    else:
        from ecpctl.views.apply_human import ApplyHumanView
        view = ApplyHumanView(console(), print_diagnostics, full=args.full)
    view.version()
    try:
        code = run_apply(ctx.obj, args, view)
    except EcpctlError as exc:
        if not args.as_json:
            raise           # main prints it in one line
        # the stream stays one object per line: the failure is its last diagnostic
        view.diagnostics(error_diagnostics(exc))     # on stderr too, as one line each
        code = 1
    finally:
        view.close()
    if code:
        sys.exit(code)


def run_apply(obj: CliContext, args: ApplyArgs, view) -> int:
    """Apply a saved plan or plan-then-apply; the exit code (0, 1 on errors, 130 interrupted)."""
    from ecpctl.cli.planning import (StateLock, execute, exit_code, is_plan_file, make_plan,
                                     state_lock)
    from ecpctl.kernel import has_errors
    destroy = args.scope.destroy
    operation = "destroy" if destroy else "apply"
    if is_plan_file(args.path):
        if args.plan_shaping:
            raise EcpctlError(f"{', '.join(args.plan_shaping)} cannot be used with a saved plan: "
                              "it is applied exactly as it was saved; make a new plan instead")
        if destroy:
            raise EcpctlError(f"{args.path} is a saved plan: apply it with `ecpctl apply "
                              f"{args.path}` (a destroy plan is made by `plan --destroy -o FILE`)")
        return _apply_saved(obj, args, view)
    if args.as_json and not args.auto_approve:
        raise EcpctlError(f"{operation} --json never prompts: pass --auto-approve, or apply a "
                          "saved plan")
    with state_lock(obj, args.lock, operation) as lock:
        # planned before the lock is taken, as a saved plan is: `execute` takes it and refuses
        # a plan whose state moved on meanwhile, so a state that cannot be read (a missing key)
        # fails before anything, even a lock record, is written
        planned = make_plan(obj, args.path, args.scope, args.providers, StateLock.unlocked(obj))
        plan, providers = planned.plan, planned.providers
        view.diagnostics(plan.diagnostics)
        if has_errors(plan.diagnostics):
            providers.close()
            return 1
        view.planned(plan)
        if not plan.has_changes:
            providers.close()
            view.no_changes(destroy=destroy)
            return 0
        view.diagnostics(unencrypted_secrets(obj, plan))
        if not args.auto_approve:
            from ecpctl.cli.planning import confirm
            try:
                confirm("Do you want to destroy these resources?" if destroy
                        else "Do you want to perform these actions?")
            except BaseException:
                providers.close()
                raise
        outcome = execute(obj, plan, providers, lock, parallelism=args.providers.parallelism,
                          events=view, on_interrupt=view.interrupted, timeout=args.timeout)
    view.outcome(outcome, destroy=destroy)
    return exit_code(outcome)


def _apply_saved(obj: CliContext, args: ApplyArgs, view) -> int:
    from ecpctl.cli.planning import execute, exit_code, load_saved_plan, state_lock
    from ecpctl.planfile import check_fresh
    from ecpctl.targets import check_bound
    from providers.registry import ProviderSet
    saved = load_saved_plan(obj, args.path)
    plan = saved.plan
    with state_lock(obj, args.lock, "destroy" if plan.destroy else "apply") as lock:
        store = obj.store()
        lock.take(store)
        snap = store.snapshot(obj.workspace, decrypt=False)
        check_fresh(plan, snap.lineage, snap.serial, obj.workspace)   # before showing it
        if not plan.refreshed and plan.has_changes:
            # made offline: no target was recorded to bind it to, no live owner was checked
            raise EcpctlError("saved plan refused: it was made with --no-refresh, so it names no "
                              "target to check this cluster and database against and no owner of "
                              "the live objects was checked; plan again without --no-refresh")
        view.planned(plan)
        if not plan.has_changes:
            view.no_changes(destroy=plan.destroy)
            return 0
        view.diagnostics(unencrypted_secrets(obj, plan))
        providers = ProviderSet(plan.provider_settings, args.providers.settings())
        try:
            check_bound(plan.provider_targets, providers)
        except BaseException:
            providers.close()
            raise
        outcome = execute(obj, plan, providers, lock, parallelism=args.providers.parallelism,
                          events=view, on_interrupt=view.interrupted,
                          plan_key_id=saved.plan_key_id, timeout=args.timeout)
    view.outcome(outcome, destroy=plan.destroy)
    return exit_code(outcome)
