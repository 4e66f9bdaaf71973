"""plan, apply, destroy, graph and import."""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.options import apply_options, plan_options, provider_options
from ecpctl.cli.output import console, print_diagnostics
from ecpctl.kernel import EcpctlError, Severity, StateError
from ecpctl.engine import (desired_state, plan_desired, provider_settings, run_apply,
                           tenant_gone, tenants_touched)
from ecpctl.graph import to_dot, to_mermaid
from ecpctl.plan import Plan
from ecpctl.config.loader import load_config
from ecpctl.planfile import (KEY_FILE, check_fresh, is_plan_file, open_plan_document, read_plan,
                             seal_plan_document, write_plan)
from ecpctl.planner import PlanOptions, PriorState
from ecpctl.registry import tenant_record
from ecpctl.kernel import Address
from ecpctl.views.apply_human import ProgressView, render_outcome
from ecpctl.views.plan_human import render_plan
from ecpctl.views.plan_json import render_plan_json
from providers.protocol import ImportRequest
from providers.registry import ProviderSet
from state import TenantRecord

PATH_ARG = click.argument("path", default=".", type=click.Path(exists=True, path_type=Path))


def _prior(store, workspace: str) -> PriorState:
    snap = store.snapshot(workspace)
    return PriorState(lineage=snap.lineage, serial=snap.serial, resources=snap.resources)


def _snapshot(obj: CliContext, path: Path):
    """The state in clear; a state encrypted with the key of the Project's keyFile loads it first."""
    from state.crypto import KeyMissing
    try:
        return obj.store().snapshot(obj.workspace)
    except KeyMissing:
        if obj.key_from_environment():
            raise
        try:
            config = load_config(path)
        except EcpctlError:
            config = None   # the missing key is the news; spec errors show once it is set
        if config is None or not obj.use_project_key(config):
            raise
    return obj.store().snapshot(obj.workspace)


def _make_plan(obj: CliContext, path: Path, *, destroy: bool, targets, excludes, refresh: bool,
               parallelism: int, replace, strict: bool, kubeconfig, kube_context,
               force_conflicts=False, wait=True, timeout=300.0):
    snap = _snapshot(obj, path)
    for addr in replace:
        if addr not in snap.resources:
            raise EcpctlError(f"-replace {addr}: no such resource in state")
    desired = desired_state(path, snap.resources, replace=tuple(replace))
    obj.use_project_key(desired.config)   # what apply writes is encrypted from the first run
    if desired.config.project.spec.state.url and not obj.resolved_state_url():
        # the Project names a state backend: reopen there so plan and apply agree
        obj.close()
        obj.state_url = desired.config.project.spec.state.url
        snap = obj.store().snapshot(obj.workspace)
        desired = desired_state(path, snap.resources, replace=tuple(replace))
    providers = ProviderSet(provider_settings(desired.config),
                            provider_options(kubeconfig=kubeconfig, kube_context=kube_context,
                                             force_conflicts=force_conflicts, wait=wait,
                                             timeout=timeout, strict=strict,
                                             parallelism=parallelism))
    opts = PlanOptions(refresh=refresh, destroy=destroy, targets=tuple(targets),
                       excludes=tuple(excludes), replace=tuple(replace),
                       parallelism=parallelism, strict=strict)
    prior = PriorState(lineage=snap.lineage, serial=snap.serial, resources=snap.resources)
    plan = plan_desired(desired, prior, workspace=obj.workspace,
                        providers=providers if refresh else None, opts=opts)
    registry = {} if destroy else {
        tid: tenant_record(desired.config.tenant(tid), desired.sizings[tid],
                           status="pending").to_dict()
        for tid in desired.config.tenant_ids}
    plan = dataclasses.replace(plan, provider_settings=provider_settings(desired.config),
                               registry=registry)
    return plan, desired, providers


def _sealer(obj: CliContext):
    from state.crypto import Sealer
    return Sealer(obj.store().key)


def _save_plan(obj: CliContext, plan: Plan, out: Path) -> None:
    """Sensitive values are encrypted with the state's key; a Project's key file is recorded so
    that `apply FILE` finds it without the specs."""
    sealer = _sealer(obj)
    key_file = str(obj.key_file) if obj.key_file is not None and not obj.key_from_environment() \
        else None
    write_plan(plan, out, encode=lambda doc: seal_plan_document(doc, sealer, key_file=key_file))


def _load_plan(obj: CliContext, path: Path) -> Plan:
    def decode(doc):
        if doc.get(KEY_FILE) and not obj.key_from_environment() and obj.key_file is None:
            obj.key_file = Path(doc[KEY_FILE])
        return open_plan_document(doc, _sealer(obj), what=f"saved plan {path}")
    return read_plan(path, decode=decode)


def _report_diagnostics(plan: Plan, *, as_json: bool) -> None:
    if plan.diagnostics and not as_json:
        print_diagnostics(plan.diagnostics)
    if any(d.severity is Severity.ERROR for d in plan.diagnostics):
        raise EcpctlError("plan has errors", diagnostics=())


@contextmanager
def _interrupt_to_event():
    """Ctrl-C asks the walk to stop starting work; in-flight work finishes and is saved."""
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if stop.is_set():
            return
        stop.set()
        click.echo("\nInterrupt received: letting running operations finish...", err=True)

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (tests)
        pass
    try:
        yield stop
    finally:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass


def _confirm(plan: Plan, auto_approve: bool, destroy: bool) -> None:
    if auto_approve:
        return
    con = console()
    what = "destroy these resources" if destroy else "perform these actions"
    con.print(f"\nDo you want to {what}?\n  Only 'yes' will be accepted to approve.\n")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except (click.Abort, EOFError):
        answer = ""
    if answer.strip() != "yes":
        raise EcpctlError("apply cancelled (answer 'yes' to approve, or pass --auto-approve)")


def _execute(obj: CliContext, plan: Plan, providers: ProviderSet, *, parallelism: int,
             lock_timeout: float) -> None:
    store = obj.store()
    con = console()
    lock = store.lock(obj.workspace, "destroy" if plan.destroy else "apply", timeout=lock_timeout)
    try:
        snap = store.snapshot(obj.workspace)
        check_fresh(plan, snap.lineage, snap.serial, obj.workspace)
        declared = set(plan.registry)

        def record(tid: str, status: str) -> None:
            row = TenantRecord.from_dict({**plan.registry[tid], "status": status})
            store.upsert_tenant(obj.workspace, row)

        for tid in sorted(tenants_touched(plan) & declared):
            record(tid, "applying")
        with _interrupt_to_event() as stop:
            outcome = run_apply(plan, providers, store, lock=lock, parallelism=parallelism,
                                events=ProgressView(con), stop=stop)
        after = store.snapshot(obj.workspace, decrypt=False)
        failed_tenants = {a.split(".")[1] for a, _ in outcome.failed}
        for tid in sorted(tenants_touched(plan)):
            if tenant_gone(tid, after.resources):
                if tid in after.tenants:
                    store.remove_tenant(obj.workspace, tid)
            elif tid in declared:
                record(tid, "failed" if tid in failed_tenants else "running")
        store.checkpoint(obj.workspace, "destroy" if plan.destroy else "apply")
    finally:
        store.unlock(lock)
        providers.close()
    con.print()
    render_outcome(outcome, con, destroy=plan.destroy)
    if not outcome.ok:
        sys.exit(130 if outcome.interrupted and not outcome.failed else 1)


def _plan_and_apply(obj: CliContext, path: Path, *, destroy: bool, auto_approve: bool,
                    lock_timeout: float, parallelism: int, **plan_kw) -> None:
    """apply and destroy: plan, show it, ask, then walk it."""
    plan, _, providers = _make_plan(obj, path, destroy=destroy, parallelism=parallelism,
                                    **plan_kw)
    _report_diagnostics(plan, as_json=False)
    render_plan(plan, console())
    if not plan.has_changes:
        providers.close()
        return
    _confirm(plan, auto_approve, destroy=destroy)
    _execute(obj, plan, providers, parallelism=parallelism, lock_timeout=lock_timeout)


def register(cli: click.Group) -> None:
    @cli.command("plan")
    @PATH_ARG
    @plan_options
    @click.option("--destroy", is_flag=True, help="Plan to destroy everything in state (in scope).")
    @click.option("--json", "as_json", is_flag=True, help="Print the plan in the JSON format (docs/json-plan.md).")
    @click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
                  help="Save the plan to FILE for a later `ecpctl apply FILE`.")
    @click.option("--detailed-exitcode", is_flag=True,
                  help="Exit 0 when there are no changes, 2 when there are, 1 on error.")
    @click.pass_obj
    def plan_cmd(obj: CliContext, path, targets, excludes, refresh, parallelism, replace, strict,
                 kubeconfig, kube_context, lock_timeout, destroy, as_json, out, detailed_exitcode):
        """Show what apply would change for the tenants in PATH (a file or a directory)."""
        plan, _, providers = _make_plan(obj, path, destroy=destroy, targets=targets,
                                        excludes=excludes, refresh=refresh,
                                        parallelism=parallelism, replace=replace, strict=strict,
                                        kubeconfig=kubeconfig, kube_context=kube_context)
        providers.close()
        _report_diagnostics(plan, as_json=as_json)
        if as_json:
            click.echo(render_plan_json(plan), nl=False)
        else:
            render_plan(plan, console())
        if out is not None:
            _save_plan(obj, plan, out)
            if not as_json:
                console().print(f"\nSaved the plan to: {out}\nTo perform exactly these actions, run: "
                                f"ecpctl apply {out}")
        if detailed_exitcode and plan.has_changes:
            sys.exit(2)

    @cli.command("apply")
    @click.argument("path", default=".", type=click.Path(exists=True, path_type=Path))
    @plan_options
    @apply_options
    @click.pass_obj
    def apply_cmd(obj: CliContext, path, targets, excludes, refresh, parallelism, replace, strict,
                  kubeconfig, kube_context, lock_timeout, auto_approve, force_conflicts, wait,
                  timeout):
        """Apply the tenants in PATH, or a saved plan file made by `plan -o`."""
        popts = provider_options(kubeconfig=kubeconfig, kube_context=kube_context,
                                 force_conflicts=force_conflicts, wait=wait, timeout=timeout,
                                 strict=strict, parallelism=parallelism)
        if is_plan_file(path):
            plan = _load_plan(obj, path)
            snap = obj.store().snapshot(obj.workspace)
            check_fresh(plan, snap.lineage, snap.serial, obj.workspace)
            providers = ProviderSet(plan.provider_settings, popts)
            render_plan(plan, console())
            if not plan.has_changes:
                return
            _execute(obj, plan, providers, parallelism=parallelism, lock_timeout=lock_timeout)
            return
        _plan_and_apply(obj, path, destroy=False, auto_approve=auto_approve,
                        lock_timeout=lock_timeout, targets=targets, excludes=excludes,
                        refresh=refresh, parallelism=parallelism, replace=replace, strict=strict,
                        kubeconfig=kubeconfig, kube_context=kube_context,
                        force_conflicts=force_conflicts, wait=wait, timeout=timeout)

    @cli.command("destroy")
    @PATH_ARG
    @plan_options
    @apply_options
    @click.pass_obj
    def destroy_cmd(obj: CliContext, path, targets, excludes, refresh, parallelism, replace, strict,
                    kubeconfig, kube_context, lock_timeout, auto_approve, force_conflicts, wait,
                    timeout):
        """Destroy everything ecpctl manages for the tenants (all of state, or --target)."""
        _plan_and_apply(obj, path, destroy=True, auto_approve=auto_approve,
                        lock_timeout=lock_timeout, targets=targets, excludes=excludes,
                        refresh=refresh, parallelism=parallelism, replace=(), strict=strict,
                        kubeconfig=kubeconfig, kube_context=kube_context,
                        force_conflicts=force_conflicts, wait=wait, timeout=timeout)

    @cli.command("graph")
    @PATH_ARG
    @click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default="dot",
                  show_default=True)
    @click.option("--tenant", default=None, metavar="ID", help="Only this tenant's resources.")
    @click.pass_obj
    def graph_cmd(obj: CliContext, path, fmt, tenant):
        """Print the resource dependency graph (Graphviz dot or Mermaid)."""
        desired = desired_state(path)
        g = desired.graph
        if tenant is not None:
            desired.config.tenant(tenant)    # raises, with a did-you-mean, when unknown
            g = g.subgraph([n for n in g.nodes if n.split(".")[1] == tenant]).copy()
        click.echo(to_dot(g) if fmt == "dot" else to_mermaid(g), nl=False)

    @cli.command("import")
    @click.argument("address")
    @click.argument("id")
    @click.option("--path", "spec_path", default=".", type=click.Path(exists=True, path_type=Path),
                  help="Spec files that declare ADDRESS.")
    @click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH")
    @click.option("--context", "kube_context", default=None, metavar="NAME")
    @click.option("--lock-timeout", default=0.0, type=float, metavar="SECONDS")
    @click.pass_obj
    def import_cmd(obj: CliContext, address, id, spec_path, kubeconfig, kube_context, lock_timeout):
        """Adopt an existing object as ADDRESS; ID is the provider's identifier of it
        (for Kubernetes `namespace/name`, for Postgres the object's name)."""
        try:
            addr = Address.parse(address)
        except ValueError as exc:
            raise EcpctlError(str(exc)) from exc
        snap = _snapshot(obj, spec_path)
        if address in snap.resources:
            raise StateError(f"{address} is already managed; `ecpctl state rm` it first to re-import")
        desired = desired_state(spec_path, snap.resources)
        obj.use_project_key(desired.config)
        store = obj.store()
        match = next((r for r in desired.resources if r.address == address), None)
        if match is None:
            raise EcpctlError(f"{address}: not declared by the spec files in {spec_path}; "
                              "add the tenant or service first")
        providers = ProviderSet(provider_settings(desired.config),
                                provider_options(kubeconfig=kubeconfig, kube_context=kube_context))
        lock = store.lock(obj.workspace, "import", timeout=lock_timeout)
        try:
            resp = providers.get(addr.provider).import_resource(ImportRequest(
                address=address, provider=addr.provider, type=addr.type, name=addr.name,
                tenant=addr.tenant, id=id, desired=match))
            if resp.state is None:
                raise EcpctlError(f"{address}: {id} was not found")
            store.put_resource(obj.workspace, resp.state, lock=lock)
            store.checkpoint(obj.workspace, "import")
        finally:
            store.unlock(lock)
            providers.close()
        console().print(f"Import successful: {address} ({id}). "
                        "Run `ecpctl plan` to see what differs from the spec.")

