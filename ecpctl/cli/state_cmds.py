"""workspace, state, force-unlock and tenants: inspecting and repairing what ecpctl recorded.

Commands that only read (workspace list/show, state list/show/history, tenants) open the state
with `CliContext.reader()`, which creates nothing: run in an empty directory they report an empty
state and leave the directory as it was.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.options import DURATION, json_option
from ecpctl.cli.report import choose, name
from ecpctl.kernel import Diagnostic, StateError

LOCK_TIMEOUT = click.option("--lock-timeout", default="0s", type=DURATION, metavar="DURATION",
                            show_default=True,
                            help="Wait this long for the state lock before failing (30s, 5m, "
                                 "1m30s or seconds).")


def _say(text: str) -> None:
    click.echo(text)


# --- shell completion (docs/shell-completion.md): read-only, and silent when state cannot be read

def _complete_from_state(ctx: click.Context, incomplete: str, read) -> list[str]:
    from ecpctl.kernel import EcpctlError
    obj = CliContext.for_completion(ctx)
    try:
        names = read(obj)
    except EcpctlError:
        return []
    finally:
        obj.close()
    return [n for n in names if n.startswith(incomplete)]


def complete_workspaces(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return _complete_from_state(ctx, incomplete, lambda obj: obj.reader().workspaces())


def complete_addresses(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return _complete_from_state(ctx, incomplete, lambda obj: sorted(
        obj.reader().snapshot(obj.workspace, decrypt=False).resources))


# --- workspace ----------------------------------------------------------------------------------

@click.group("workspace")
@click.pass_context
def workspace_group(ctx: click.Context) -> None:
    """Manage workspaces: separate states (for example demo and production)."""
    name(ctx, f"workspace {ctx.invoked_subcommand}")


@dataclass(frozen=True)
class WorkspaceListArgs:
    as_json: bool


@workspace_group.command("list")
@json_option("the workspaces")
@click.pass_context
def workspace_list_cmd(ctx: click.Context, **opts) -> None:
    """List workspaces; the selected one is marked with *."""
    workspace_list(ctx, ctx.obj, WorkspaceListArgs(**opts))


def workspace_list(ctx: click.Context, obj: CliContext, args: WorkspaceListArgs) -> None:
    from ecpctl.views.registry import Workspaces, workspaces_human, workspaces_json
    view = choose(ctx, "workspace list", args.as_json, human=workspaces_human, body=workspaces_json)
    view.show(Workspaces(names=tuple(obj.reader().workspaces()), selected=obj.workspace))


@dataclass(frozen=True)
class WorkspaceNameArgs:
    name: str


@workspace_group.command("new")
@click.argument("name")
@click.pass_obj
def workspace_new_cmd(obj: CliContext, **opts) -> None:
    """Create workspace NAME and select it."""
    args = WorkspaceNameArgs(**opts)
    obj.store().create_workspace(args.name)
    obj.select_workspace(args.name)
    _say(f'Created and switched to workspace "{args.name}".')


@workspace_group.command("select")
@click.argument("name", shell_complete=complete_workspaces)
@click.pass_obj
def workspace_select_cmd(obj: CliContext, **opts) -> None:
    """Select workspace NAME for later commands."""
    args = WorkspaceNameArgs(**opts)
    if args.name not in obj.reader().workspaces():
        raise StateError(f"workspace {args.name} does not exist; create it with "
                         f"`ecpctl workspace new {args.name}`")
    obj.select_workspace(args.name)
    _say(f'Switched to workspace "{args.name}".')


@workspace_group.command("show")
@click.pass_obj
def workspace_show_cmd(obj: CliContext) -> None:
    """Print the selected workspace."""
    _say(obj.workspace)


@dataclass(frozen=True)
class WorkspaceDeleteArgs:
    name: str
    force: bool


@workspace_group.command("delete")
@click.argument("name", shell_complete=complete_workspaces)
@click.option("--force", is_flag=True, help="Forget a non-empty workspace without destroying anything.")
@click.pass_obj
def workspace_delete_cmd(obj: CliContext, **opts) -> None:
    """Delete workspace NAME (it must be empty unless --force)."""
    args = WorkspaceDeleteArgs(**opts)
    if args.name == obj.workspace and args.name != "default":
        raise StateError(f"workspace {args.name} is selected; select another one first")
    obj.store().delete_workspace(args.name, force=args.force)
    _say(f'Deleted workspace "{args.name}".')


# --- state: reading -----------------------------------------------------------------------------

@click.group("state")
@click.pass_context
def state_group(ctx: click.Context) -> None:
    """Inspect and edit the recorded state."""
    name(ctx, f"state {ctx.invoked_subcommand}")


@dataclass(frozen=True)
class StateListArgs:
    patterns: tuple[str, ...]
    as_json: bool


@state_group.command("list")
@click.argument("patterns", nargs=-1)
@json_option("the resources")
@click.pass_context
def state_list_cmd(ctx: click.Context, **opts) -> None:
    """List resources in state, optionally only those matching address globs or tenant ids."""
    state_list(ctx, ctx.obj, StateListArgs(**opts))


def state_list(ctx: click.Context, obj: CliContext, args: StateListArgs) -> None:
    from ecpctl.kernel import matches
    from ecpctl.views.state_views import StateListing, state_list_human, state_list_json
    view = choose(ctx, "state list", args.as_json, human=state_list_human, body=state_list_json)
    snap = obj.reader().snapshot(obj.workspace, decrypt=False)   # addresses only: no key needed
    view.show(StateListing(
        workspace=obj.workspace, lineage=snap.lineage, serial=snap.serial,
        resources=tuple(s for a, s in sorted(snap.resources.items())
                        if not args.patterns or matches(a, s.tenant, args.patterns))))


@dataclass(frozen=True)
class StateShowArgs:
    address: str
    as_json: bool


@state_group.command("show")
@click.argument("address", shell_complete=complete_addresses)
@json_option("the resource")
@click.pass_context
def state_show_cmd(ctx: click.Context, **opts) -> None:
    """Show one resource's recorded attributes (sensitive values redacted)."""
    state_show(ctx, ctx.obj, StateShowArgs(**opts))


def state_show(ctx: click.Context, obj: CliContext, args: StateShowArgs) -> None:
    from ecpctl.views.state_views import StateShown, state_show_human, state_show_json
    view = choose(ctx, "state show", args.as_json, human=state_show_human, body=state_show_json)
    snap = obj.reader().snapshot(obj.workspace, decrypt=False)   # redacted: no key needed
    found = snap.resources.get(args.address)
    if found is None:
        raise StateError(
            f"{args.address}: no such resource in state of workspace {obj.workspace}",
            diagnostics=(Diagnostic.error(f"no such resource in state of workspace {obj.workspace}",
                                          address=args.address),))
    view.show(StateShown(workspace=obj.workspace, resource=found))


@dataclass(frozen=True)
class StateHistoryArgs:
    as_json: bool


@state_group.command("history")
@json_option("the versions")
@click.pass_context
def state_history_cmd(ctx: click.Context, **opts) -> None:
    """List the kept versions of this workspace's state, newest first."""
    state_history(ctx, ctx.obj, StateHistoryArgs(**opts))


def state_history(ctx: click.Context, obj: CliContext, args: StateHistoryArgs) -> None:
    from ecpctl.views.state_views import StateHistory, state_history_human, state_history_json
    view = choose(ctx, "state history", args.as_json, human=state_history_human,
                  body=state_history_json)
    view.show(StateHistory(workspace=obj.workspace,
                           versions=tuple(obj.reader().history(obj.workspace))))


@dataclass(frozen=True)
class StatePullArgs:
    version: int | None


@state_group.command("pull")
@click.option("--version", "version", type=int, default=None, help="A version from `state history`.")
@click.pass_obj
def state_pull_cmd(obj: CliContext, **opts) -> None:
    """Print the state document (current, or an older version) as JSON on stdout.

    Sensitive values stay encrypted when the state is; otherwise they are in clear: redirect
    the document to a file that only you can read."""
    args = StatePullArgs(**opts)
    doc = obj.reader().pull(obj.workspace, args.version)
    _say(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


# --- state: writing -----------------------------------------------------------------------------

@dataclass(frozen=True)
class StatePushArgs:
    file: Path
    force: bool
    lock_timeout: float


@state_group.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Accept a lower serial or another lineage.")
@LOCK_TIMEOUT
@click.pass_obj
def state_push_cmd(obj: CliContext, **opts) -> None:
    """Replace this workspace's state with a document made by `state pull`."""
    args = StatePushArgs(**opts)
    try:
        doc = json.loads(args.file.read_bytes().decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise StateError(f"{args.file}: not a JSON state document ({exc.msg} at line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise StateError(f"{args.file}: not a JSON state document (not UTF-8 text at byte "
                         f"{exc.start})") from exc
    store = obj.store()
    lock = store.lock(obj.workspace, "state push", timeout=args.lock_timeout)
    try:
        store.push(obj.workspace, doc, force=args.force)
    finally:
        store.unlock(lock)
    _say(f"Pushed {args.file} to workspace {obj.workspace}.")


@dataclass(frozen=True)
class StateRmArgs:
    addresses: tuple[str, ...]
    lock_timeout: float


@state_group.command("rm")
@click.argument("addresses", nargs=-1, required=True, shell_complete=complete_addresses)
@LOCK_TIMEOUT
@click.pass_obj
def state_rm_cmd(obj: CliContext, **opts) -> None:
    """Forget resources without destroying them (they stay in the live systems)."""
    args = StateRmArgs(**opts)
    store = obj.store()
    recorded = store.snapshot(obj.workspace, decrypt=False).resources
    missing = [a for a in args.addresses if a not in recorded]
    if missing:
        raise StateError(f"{missing[0]}: no such resource in state")
    lock = store.lock(obj.workspace, "state rm", timeout=args.lock_timeout)
    try:
        for a in args.addresses:
            store.remove_resource(obj.workspace, a, lock=lock)
        store.checkpoint(obj.workspace, "state rm")
    finally:
        store.unlock(lock)
    _say(f"Removed {len(args.addresses)} resource(s) from state.")


@dataclass(frozen=True)
class StateMvArgs:
    source: str
    destination: str
    lock_timeout: float


@state_group.command("mv")
@click.argument("source", shell_complete=complete_addresses)
@click.argument("destination")
@LOCK_TIMEOUT
@click.pass_obj
def state_mv_cmd(obj: CliContext, **opts) -> None:
    """Record SOURCE under the address DESTINATION (after a rename in the spec)."""
    from ecpctl.kernel import Address
    args = StateMvArgs(**opts)
    for a in (args.source, args.destination):
        try:
            Address.parse(a)
        except ValueError as exc:
            raise StateError(str(exc)) from exc
    store = obj.store()
    store.snapshot(obj.workspace)   # a missing or wrong key fails here, before the lock is taken
    lock = store.lock(obj.workspace, "state mv", timeout=args.lock_timeout)
    try:
        store.move_resource(obj.workspace, args.source, args.destination)
        store.checkpoint(obj.workspace, "state mv")
    finally:
        store.unlock(lock)
    _say(f"Moved {args.source} to {args.destination}.")


@dataclass(frozen=True)
class StateRekeyArgs:
    new_key_file: Path | None
    decrypt: bool
    lock_timeout: float


@state_group.command("rekey")
@click.option("--new-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File with the new key (32 random bytes in base64). Default: "
                   "ECPCTL_STATE_NEW_KEY.")
@click.option("--decrypt", is_flag=True, help="Store sensitive values in clear from now on.")
@LOCK_TIMEOUT
@click.pass_obj
def state_rekey_cmd(obj: CliContext, **opts) -> None:
    """Encrypt this workspace's sensitive values, and its history's, with a new key.

    Values are opened with the current key (ECPCTL_STATE_KEY or ECPCTL_STATE_KEY_FILE; none
    for a state in clear) and written under the new one, in one transaction under the
    workspace lock. Afterwards only the new key opens them; saved plans made before must be
    made again."""
    from state.keys import NEW_KEY_ENV, new_key_from
    args = StateRekeyArgs(**opts)
    if args.decrypt and args.new_key_file is not None:
        raise StateError("--decrypt and --new-key-file exclude each other")
    new_key = None if args.decrypt else new_key_from(args.new_key_file)
    if new_key is None and not args.decrypt:
        raise StateError(f"no new key: give --new-key-file FILE or set {NEW_KEY_ENV} (or "
                         "--decrypt to store values in clear)")
    store = obj.store()
    store.snapshot(obj.workspace)   # a missing or wrong key fails here, before the lock is taken
    lock = store.lock(obj.workspace, "state rekey", timeout=args.lock_timeout)
    try:
        report = store.rekey(obj.workspace, new_key, lock=lock)
    finally:
        store.unlock(lock)
    verb = ("Decrypted" if new_key is None
            else "Encrypted" if report.old_kid is None else "Re-encrypted")
    source = f"key {report.old_kid}" if report.old_kid else "clear text"
    target = f"key {report.new_kid}" if new_key is not None else "clear text"
    _say(f"{verb} {report.values} value(s) in {report.resources} resource(s) and "
         f"{report.version_values} value(s) in {report.versions} history version(s) of "
         f"workspace {obj.workspace} ({source} -> {target}).")
    for version, why in report.skipped:
        click.echo(f"Warning: version {version} was left as it was: {why}", err=True)
    if new_key is not None:
        _say(f"From now on set ECPCTL_STATE_KEY to the new key (key id {report.new_kid}).")
    else:
        _say("From now on leave ECPCTL_STATE_KEY unset for this workspace.")


# --- force-unlock, tenants ----------------------------------------------------------------------

@dataclass(frozen=True)
class ForceUnlockArgs:
    lock_id: str
    yes: bool


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.pass_obj
def force_unlock_cmd(obj: CliContext, **opts) -> None:
    """Release a lock whose holder died (its id is in the lock error).

    Nothing ever takes a lock over by itself: this asks first, and without a terminal it
    needs --yes."""
    from state.lock import pid_alive, this_host
    args = ForceUnlockArgs(**opts)
    store = obj.store()
    held = store.current_lock(obj.workspace)
    if held is None or held.id != args.lock_id:
        raise StateError(f"workspace {obj.workspace} holds no lock with id {args.lock_id}")
    running = held.host == this_host() and pid_alive(held.pid)
    if not args.yes:
        if not sys.stdin.isatty():
            raise StateError(
                f"force-unlock of lock {args.lock_id} held by {held.holder} (pid {held.pid}"
                f"{', still running' if running else ''}) for {held.operation} needs "
                "confirmation: run it in a terminal, or pass --yes")
        warn = " It is still running on this host!" if running else ""
        click.confirm(f"Release the lock held by {held.holder} (pid {held.pid}) for "
                      f"{held.operation}?{warn}", abort=True)
    store.force_unlock(obj.workspace, args.lock_id)
    _say(f"Released lock {args.lock_id} on workspace {obj.workspace}.")


@dataclass(frozen=True)
class TenantsArgs:
    as_json: bool
    summary: bool = False
    spec_path: Path | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    prometheus_url: str | None = None


@click.command("tenants")
@json_option("the registry")
@click.option("--summary", is_flag=True,
              help="The fleet instead of the list: counts by status and preset, quotas against "
                   "the cluster's allocatable, utilisation per tenant from Prometheus.")
@click.option("-p", "--path", "spec_path", default=None, metavar="PATH",
              type=click.Path(exists=True, path_type=Path),
              help="Spec files whose Project names the cluster and Prometheus (--summary; "
                   "default: the current directory, if it holds a Project).")
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH",
              help="Kubeconfig for --summary (overrides the Project; env KUBECONFIG).")
@click.option("--context", "kube_context", default=None, metavar="NAME",
              help="Kubeconfig context to use.")
@click.option("--prometheus-url", envvar="ECPCTL_PROMETHEUS_URL", default=None, metavar="URL",
              help="Prometheus for --summary (overrides the Project's providers.prometheus.url; "
                   "env ECPCTL_PROMETHEUS_URL).")
@click.pass_context
def tenants_cmd(ctx: click.Context, **opts) -> None:
    """List the tenants registry: tenants, presets, limits and status.

    With --summary: totals (all, running, pending, failed, demo), counts by preset, the sum of
    the tenants' quotas against what the cluster's nodes can allocate, and each tenant's current
    CPU, memory and GPU use. A cluster or Prometheus that is not configured or not reachable is
    said so; the rest is still reported. Reads only: creates no state."""
    tenants(ctx, ctx.obj, TenantsArgs(**opts))


def tenants(ctx: click.Context, obj: CliContext, args: TenantsArgs) -> None:
    snap = obj.reader().snapshot(obj.workspace, decrypt=False)
    records = tuple(snap.tenants[k] for k in sorted(snap.tenants))
    if args.summary:
        from ecpctl.cli.fleet_summary import collect
        from ecpctl.views.registry import summary_human, summary_json
        view = choose(ctx, "tenants", args.as_json, human=summary_human, body=summary_json)
        view.show(collect(obj.workspace, records, args))
        return
    from ecpctl.views.registry import Tenants, tenants_human, tenants_json
    view = choose(ctx, "tenants", args.as_json, human=tenants_human, body=tenants_json)
    view.show(Tenants(workspace=obj.workspace, records=records))
