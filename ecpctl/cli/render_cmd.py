"""`ecpctl render`: the Kubernetes manifests of the tenants as files for GitOps tools, optionally
with Argo CD Applications; `--check` compares a directory with what would be written (a CI gate)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.report import name
from ecpctl.kernel import EcpctlError

CHECK_DIFFERS_EXIT = 2      # documented in the help and docs/ci-recipes.md, like plan's 2


@dataclass(frozen=True)
class RenderArgs:
    path: Path
    out_dir: Path | None
    check_dir: Path | None
    tenant: str | None
    argocd: str | None
    argocd_applicationset: bool


@click.command("render")
@click.argument("path", default=".", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path),
              help="Directory to write the manifests to (one subdirectory per tenant).")
@click.option("--check", "check_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write nothing: list the files in DIR that differ from what would be "
                   "rendered, one per line, and exit 2 if any do (0 if none).")
@click.option("--tenant", default=None, metavar="ID", help="Only this tenant.")
@click.option("--argocd", default=None, metavar="KEY=VALUE,...",
              help="Also write Argo CD Applications into DIR/_argocd: repoURL=URL,path=DIR-IN-"
                   "REPO (required), project=, revision= (default HEAD), namespace= (default "
                   "argocd), server= (default the in-cluster API server).")
@click.option("--argocd-applicationset", is_flag=True,
              help="With --argocd: one ApplicationSet (git directory generator) instead of an "
                   "Application per tenant.")
@click.pass_context
def render_cmd(ctx: click.Context, **opts) -> None:
    """Write the Kubernetes manifests of the tenants in PATH as YAML files, for GitOps tools.

    Needs no cluster and no state; the output is byte-for-byte stable between runs, and every
    object is spelled out (no YAML anchors or aliases). Rendered objects carry
    app.kubernetes.io/managed-by=ecpctl-render, so `ecpctl plan` never takes them for its own.
    Secrets are never written: a comment in their place names them and their keys (see
    docs/gitops.md).

    \b
    Exit codes of --check (a CI gate for GitOps repositories):
      0  DIR holds exactly what would be rendered
      2  files differ, are missing or are no longer rendered (listed)
      1  an error"""
    render(ctx, RenderArgs(**opts))


def render(ctx: click.Context, args: RenderArgs) -> None:
    from ecpctl.cli.output import console
    from ecpctl.engine import desired_state
    from ecpctl.views.report import plural
    from providers.kubernetes.render import check_tree, render_tree, write_tree

    name(ctx, "render")
    if (args.out_dir is None) == (args.check_dir is None):
        raise click.UsageError("give one of -o/--out DIR (write) and --check DIR (compare)")
    if args.argocd_applicationset and args.argocd is None:
        raise click.UsageError("--argocd-applicationset needs --argocd")
    settings = _argocd_settings(args)
    desired = desired_state(args.path, workspace=ctx.obj.workspace if ctx.obj is not None else None)
    if args.tenant is not None:
        desired.config.tenant(args.tenant)   # a ConfigError naming the tenants it might mean
    resources = [r for r in desired.resources if args.tenant is None or r.tenant == args.tenant]
    try:
        rendered = render_tree(resources)
    except ValueError as exc:
        raise EcpctlError(f"render: {exc}") from exc
    files = dict(rendered.files)
    from ecpctl.gitops import ARGOCD_DIR, argocd_files
    only = None if args.tenant is None else [args.tenant]
    keep: tuple[str, ...] = (ARGOCD_DIR,)     # without --argocd, earlier Applications stay
    if settings is not None:
        argo = argocd_files(rendered, settings, prefix=_prefix(desired.config))
        files.update(argo)
        keep = ()
        if only is not None:
            only = [*only, *argo]
    manifests = len(rendered.files)
    tenants = len(rendered.tenants)
    if args.check_dir is not None:
        diffs = check_tree(files, args.check_dir, only=only, keep=keep)
        for rel, how in diffs:
            click.echo(f"{rel}: {how}")
        if diffs:
            click.echo(f"{plural(len(diffs), 'file')} in {args.check_dir} differ from what "
                       f"`ecpctl render` writes; render again and commit the result.", err=True)
            ctx.exit(CHECK_DIFFERS_EXIT)
        console().print(f"{args.check_dir} matches the rendered manifests "
                        f"({plural(len(files), 'file')}).", markup=False)
        return
    assert args.out_dir is not None
    try:
        changed, removed = write_tree(files, args.out_dir, only=only, keep=keep)
    except OSError as exc:
        raise EcpctlError(f"render: cannot write {args.out_dir}: {exc.strerror or exc}") from exc
    apps = "" if settings is None else (
        f" and {'an ApplicationSet' if settings.application_set else 'Argo CD Applications'}")
    console().print(f"Rendered {plural(manifests, 'manifest')} for {plural(tenants, 'tenant')}"
                    f"{apps} into {args.out_dir} ({len(changed)} written, {len(removed)} removed, "
                    f"{len(files) - len(changed)} unchanged).", markup=False)


def _argocd_settings(args: RenderArgs):
    if args.argocd is None:
        return None
    from ecpctl.gitops import ArgoSettings
    try:
        return ArgoSettings.parse(args.argocd, application_set=args.argocd_applicationset)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--argocd") from exc


def _prefix(config) -> str:
    k = config.project.spec.providers.kubernetes
    return k.namespacePrefix if k is not None else "ecp-ai-"
