"""workspace, state, force-unlock and tenants: inspecting and repairing what ecpctl recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from ecpctl.cli.context import CliContext
from ecpctl.cli.output import console
from ecpctl.kernel import StateError
from ecpctl.kernel.paths import redact
from ecpctl.kernel import Address, matches


def _dump(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def register(cli: click.Group) -> None:
    @cli.group("workspace")
    def workspace_grp():
        """Manage workspaces: separate states (for example demo and production)."""

    @workspace_grp.command("list")
    @click.pass_obj
    def ws_list(obj: CliContext):
        """List workspaces; the selected one is marked with *."""
        current = obj.workspace
        for name in obj.reader().workspaces():
            click.echo(f"{'*' if name == current else ' '} {name}")

    @workspace_grp.command("new")
    @click.argument("name")
    @click.pass_obj
    def ws_new(obj: CliContext, name):
        """Create workspace NAME and select it."""
        obj.store().create_workspace(name)
        obj.select_workspace(name)
        click.echo(f'Created and switched to workspace "{name}".')

    @workspace_grp.command("select")
    @click.argument("name")
    @click.pass_obj
    def ws_select(obj: CliContext, name):
        """Select workspace NAME for later commands."""
        if name not in obj.store().workspaces():
            raise StateError(f"workspace {name} does not exist; create it with "
                             f"`ecpctl workspace new {name}`")
        obj.select_workspace(name)
        click.echo(f'Switched to workspace "{name}".')

    @workspace_grp.command("show")
    @click.pass_obj
    def ws_show(obj: CliContext):
        """Print the selected workspace."""
        click.echo(obj.workspace)

    @workspace_grp.command("delete")
    @click.argument("name")
    @click.option("--force", is_flag=True, help="Forget a non-empty workspace without destroying anything.")
    @click.pass_obj
    def ws_delete(obj: CliContext, name, force):
        """Delete workspace NAME (it must be empty unless --force)."""
        if name == obj.workspace and name != "default":
            raise StateError(f"workspace {name} is selected; select another one first")
        obj.store().delete_workspace(name, force=force)
        click.echo(f'Deleted workspace "{name}".')

    @cli.group("state")
    def state_grp():
        """Inspect and edit the recorded state."""

    @state_grp.command("list")
    @click.argument("patterns", nargs=-1)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (addresses, provider, type, tenant).")
    @click.pass_obj
    def state_list(obj: CliContext, patterns, as_json):
        """List resources in state, optionally only those matching address globs or tenant ids."""
        snap = obj.reader().snapshot(obj.workspace, decrypt=False)
        items = [s for a, s in sorted(snap.resources.items())
                 if not patterns or matches(a, s.tenant, patterns)]
        if as_json:
            _dump({"format_version": "1.0", "workspace": obj.workspace, "lineage": snap.lineage,
                   "serial": snap.serial,
                   "resources": [{"address": s.address, "provider": s.provider, "type": s.type,
                                  "name": s.name, "tenant": s.tenant,
                                  "depends_on": list(s.depends_on)} for s in items]})
            return
        for s in items:
            click.echo(s.address)

    @state_grp.command("show")
    @click.argument("address")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def state_show(obj: CliContext, address, as_json):
        """Show one resource's recorded attributes (sensitive values redacted)."""
        snap = obj.reader().snapshot(obj.workspace, decrypt=False)   # redacted: no key needed
        s = snap.resources.get(address)
        if s is None:
            raise StateError(f"{address}: no such resource in state of workspace {obj.workspace}")
        data = {"address": s.address, "provider": s.provider, "type": s.type, "tenant": s.tenant,
                "attributes": redact(dict(s.attributes), s.sensitive),
                "observed": redact(dict(s.observed), s.sensitive),
                "depends_on": list(s.depends_on), "sensitive_paths": list(s.sensitive)}
        if as_json:
            _dump(data)
            return
        con = console()
        con.print(f"# {s.address}", markup=False)
        con.print(json.dumps(data["attributes"], indent=2, ensure_ascii=False), markup=False)
        if s.depends_on:
            con.print("depends on: " + ", ".join(s.depends_on), markup=False)

    @state_grp.command("rm")
    @click.argument("addresses", nargs=-1, required=True)
    @click.option("--lock-timeout", default=0.0, type=float)
    @click.pass_obj
    def state_rm(obj: CliContext, addresses, lock_timeout):
        """Forget resources without destroying them (they stay in the live systems)."""
        store = obj.store()
        snap = store.snapshot(obj.workspace, decrypt=False)
        missing = [a for a in addresses if a not in snap.resources]
        if missing:
            raise StateError(f"{missing[0]}: no such resource in state")
        lock = store.lock(obj.workspace, "state rm", timeout=lock_timeout)
        try:
            for a in addresses:
                store.remove_resource(obj.workspace, a, lock=lock)
            store.checkpoint(obj.workspace, "state rm")
        finally:
            store.unlock(lock)
        click.echo(f"Removed {len(addresses)} resource(s) from state.")

    @state_grp.command("mv")
    @click.argument("source")
    @click.argument("destination")
    @click.option("--lock-timeout", default=0.0, type=float)
    @click.pass_obj
    def state_mv(obj: CliContext, source, destination, lock_timeout):
        """Record SOURCE under the address DESTINATION (after a rename in the spec)."""
        for a in (source, destination):
            try:
                Address.parse(a)
            except ValueError as exc:
                raise StateError(str(exc)) from exc
        store = obj.store()
        store.snapshot(obj.workspace)   # a missing or wrong key fails here, before the lock is taken
        lock = store.lock(obj.workspace, "state mv", timeout=lock_timeout)
        try:
            store.move_resource(obj.workspace, source, destination)
            store.checkpoint(obj.workspace, "state mv")
        finally:
            store.unlock(lock)
        click.echo(f"Moved {source} to {destination}.")

    @state_grp.command("history")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def state_history(obj: CliContext, as_json):
        """List the kept versions of this workspace's state, newest first."""
        versions = obj.reader().history(obj.workspace)
        if as_json:
            _dump([{"version": v.version, "lineage": v.lineage, "created_at": v.created_at,
                    "operation": v.operation, "resources": v.resources} for v in versions])
            return
        table = Table("version", "created", "operation", "resources", box=None)
        for v in versions:
            table.add_row(str(v.version), str(v.created_at)[:19], v.operation, str(v.resources))
        console().print(table)

    @state_grp.command("pull")
    @click.option("--version", "version", type=int, default=None, help="A version from `state history`.")
    @click.pass_obj
    def state_pull(obj: CliContext, version):
        """Print the state document (current, or an older version) as JSON on stdout.

        Sensitive values stay encrypted when the state is; otherwise they are in clear: redirect
        the document to a file that only you can read."""
        _dump(obj.store().pull(obj.workspace, version))

    @state_grp.command("push")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Accept a lower serial or another lineage.")
    @click.option("--lock-timeout", default=0.0, type=float)
    @click.pass_obj
    def state_push(obj: CliContext, file, force, lock_timeout):
        """Replace this workspace's state with a document made by `state pull`."""
        try:
            doc = json.loads(file.read_text())
        except ValueError as exc:
            raise StateError(f"{file}: not a JSON state document ({exc.msg} at line {exc.lineno})") from exc
        store = obj.store()
        lock = store.lock(obj.workspace, "state push", timeout=lock_timeout)
        try:
            store.push(obj.workspace, doc, force=force)
        finally:
            store.unlock(lock)
        click.echo(f"Pushed {file} to workspace {obj.workspace}.")

    @state_grp.command("rekey")
    @click.option("--new-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="File with the new key (32 random bytes in base64). Default: "
                       "ECPCTL_STATE_NEW_KEY.")
    @click.option("--decrypt", is_flag=True, help="Store sensitive values in clear from now on.")
    @click.option("--lock-timeout", default=0.0, type=float)
    @click.pass_obj
    def state_rekey(obj: CliContext, new_key_file, decrypt, lock_timeout):
        """Encrypt this workspace's sensitive values, and its history's, with a new key.

        Values are opened with the current key (ECPCTL_STATE_KEY or ECPCTL_STATE_KEY_FILE; none
        for a state in clear) and written under the new one, in one transaction under the
        workspace lock. Afterwards only the new key opens them; saved plans made before must be
        made again."""
        from state.keys import NEW_KEY_ENV, new_key_from
        if decrypt and (new_key_file is not None):
            raise StateError("--decrypt and --new-key-file exclude each other")
        new_key = None if decrypt else new_key_from(new_key_file)
        if new_key is None and not decrypt:
            raise StateError(f"no new key: give --new-key-file FILE or set {NEW_KEY_ENV} (or "
                             "--decrypt to store values in clear)")
        store = obj.store()
        store.snapshot(obj.workspace)   # a missing or wrong key fails here, before the lock is taken
        lock = store.lock(obj.workspace, "state rekey", timeout=lock_timeout)
        try:
            report = store.rekey(obj.workspace, new_key, lock=lock)
        finally:
            store.unlock(lock)
        verb = ("Decrypted" if new_key is None
                else "Encrypted" if report.old_kid is None else "Re-encrypted")
        target = f"key {report.new_kid}" if new_key is not None else "clear text"
        click.echo(f"{verb} {report.values} value(s) in {report.resources} resource(s) and "
                   f"{report.version_values} value(s) in {report.versions} history version(s) of "
                   f"workspace {obj.workspace} ({'key ' + report.old_kid if report.old_kid else 'clear text'}"
                   f" -> {target}).")
        for version, why in report.skipped:
            click.echo(f"Warning: version {version} was left as it was: {why}", err=True)
        if new_key is not None:
            click.echo(f"From now on set ECPCTL_STATE_KEY to the new key (key id {report.new_kid}).")
        else:
            click.echo("From now on leave ECPCTL_STATE_KEY unset for this workspace.")

    @cli.command("force-unlock")
    @click.argument("lock_id")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
    @click.pass_obj
    def force_unlock(obj: CliContext, lock_id, yes):
        """Release a lock whose holder died (its id is in the lock error).

        Nothing ever takes a lock over by itself: this asks first, and without a terminal it
        needs --yes."""
        from state.lock import pid_alive, this_host
        store = obj.store()
        held = store.current_lock(obj.workspace)
        if held is None or held.id != lock_id:
            raise StateError(f"workspace {obj.workspace} holds no lock with id {lock_id}")
        running = held.host == this_host() and pid_alive(held.pid)
        if not yes:
            if not sys.stdin.isatty():
                raise StateError(
                    f"force-unlock of lock {lock_id} held by {held.holder} (pid {held.pid}"
                    f"{', still running' if running else ''}) for {held.operation} needs "
                    "confirmation: run it in a terminal, or pass --yes")
            warn = " It is still running on this host!" if running else ""
            click.confirm(f"Release the lock held by {held.holder} (pid {held.pid}) for "
                          f"{held.operation}?{warn}", abort=True)
        store.force_unlock(obj.workspace, lock_id)
        click.echo(f"Released lock {lock_id} on workspace {obj.workspace}.")

    @cli.command("tenants")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def tenants_cmd(obj: CliContext, as_json):
        """List the tenants registry: tenants, presets, limits and status."""
        snap = obj.reader().snapshot(obj.workspace, decrypt=False)
        recs = [snap.tenants[k] for k in sorted(snap.tenants)]
        if as_json:
            _dump({"workspace": obj.workspace, "tenants": [r.to_dict() for r in recs]})
            return
        if not recs:
            click.echo(f"No tenants in workspace {obj.workspace}.")
            return
        table = Table("tenant", "name", "preset", "demo", "status", "cpu", "memory", "gpu",
                      "gpu type", "updated", box=None)
        for r in recs:
            table.add_row(r.tenant_id, r.name, r.preset, "yes" if r.is_demo else "no", r.status,
                          r.cpu_limit, r.memory_limit, str(r.gpu_limit), r.gpu_type or "",
                          str(r.updated_at)[:19])
        console().print(table)

