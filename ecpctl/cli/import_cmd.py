"""`ecpctl import`: adopt an object that already exists into state, under the workspace lock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.options import LockArgs, ProviderArgs, json_option, kube_options, lock_options
from ecpctl.cli.output import COMMAND_META, console
from ecpctl.kernel import EcpctlError, StateError


@dataclass(frozen=True)
class ImportArgs:
    address: str
    id: str
    spec_path: Path
    providers: ProviderArgs
    lock: LockArgs
    as_json: bool = False

    @classmethod
    def parse(cls, ctx: click.Context) -> ImportArgs:
        p = ctx.params
        return cls(address=p["address"], id=p["id"], spec_path=p["spec_path"],
                   providers=ProviderArgs.parse(p), lock=LockArgs.parse(p), as_json=p["as_json"])


@click.command("import")
@click.argument("address")
@click.argument("id")
@click.option("--path", "spec_path", default=".", type=click.Path(exists=True, path_type=Path),
              help="Spec files that declare ADDRESS.")
@kube_options
@lock_options
@json_option("the result")
@click.pass_context
def import_cmd(ctx: click.Context, **_: object) -> None:
    """Adopt an existing object as ADDRESS; ID is the provider's identifier of it
    (for Kubernetes `namespace/name`, for Postgres the object's name)."""
    ctx.meta[COMMAND_META] = "import"
    args = ImportArgs.parse(ctx)
    run_import(ctx.obj, args)
    if args.as_json:
        from ecpctl.views.envelope import dumps, envelope
        click.echo(dumps(envelope("import", {"address": args.address, "id": args.id,
                                             "workspace": ctx.obj.workspace})), nl=False)
    else:
        console().print(f"Import successful: {args.address} ({args.id}). "
                        "Run `ecpctl plan` to see what differs from the spec.")


def run_import(obj: CliContext, args: ImportArgs) -> None:
    from ecpctl.cli.planning import snapshot, state_lock
    from ecpctl.engine import desired_state, provider_settings
    from ecpctl.kernel import Address
    from providers.protocol import ImportRequest
    from providers.registry import ProviderSet
    try:
        addr = Address.parse(args.address)
    except ValueError as exc:
        raise EcpctlError(str(exc)) from exc
    snap = snapshot(obj, args.spec_path)
    desired = desired_state(args.spec_path, snap.resources, workspace=obj.workspace)
    obj.use_project_key(desired.config)
    match = next((r for r in desired.resources if r.address == args.address), None)
    if match is None:
        raise EcpctlError(f"{args.address}: not declared by the spec files in {args.spec_path}; "
                          "add the tenant or service first")
    if args.address in snap.resources:
        raise StateError(f"{args.address} is already managed; `ecpctl state rm` it first to "
                         "re-import")
    store = obj.store()
    with state_lock(obj, args.lock, "import") as lock:
        lock.take(store)
        providers = ProviderSet(provider_settings(desired.config), args.providers.settings())
        try:
            resp = providers.get(addr.provider).import_resource(ImportRequest(
                addr=match.addr, id=args.id, desired=match))
            if resp.state is None:
                raise EcpctlError(f"{args.address}: {args.id} was not found")
            store.put_resource(obj.workspace, resp.state, lock=lock.info)
            store.checkpoint(obj.workspace, "import")
        finally:
            providers.close()
