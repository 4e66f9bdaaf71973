"""status: tenants as the cluster runs them (render lives in render_cmd.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import click

from ecpctl.cli.options import DURATION, json_option
from ecpctl.cli.report import choose
from ecpctl.kernel import EcpctlError

NOT_READY_EXIT = 3   # documented in status's help and docs/cli-reference.md: CI smoke tests use it
WAIT_POLL = 2.0      # seconds between two looks of status --wait: one LIST per kind each time


@dataclass(frozen=True)
class StatusArgs:
    tenant: str | None
    spec_path: Path
    as_json: bool
    kubeconfig: str | None
    kube_context: str | None
    wait: bool = False
    wait_timeout: float = 300.0


@click.command("status")
@click.argument("tenant", required=False)
@click.option("-p", "--path", "spec_path", default=".", show_default=True,
              type=click.Path(exists=True, path_type=Path),
              help="Spec files (a file or a directory) that declare the tenants.")
@json_option("the status")
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH",
              help="Kubeconfig (overrides the Project; env KUBECONFIG).")
@click.option("--context", "kube_context", default=None, metavar="NAME",
              help="Kubeconfig context to use.")
@click.option("--wait", is_flag=True,
              help="Wait until every service is ready (or --wait-timeout passes), then report.")
@click.option("--wait-timeout", default="5m", show_default=True, type=DURATION,
              metavar="DURATION", help="How long --wait waits (30s, 5m, 1m30s or seconds).")
@click.pass_context
def status_cmd(ctx: click.Context, **opts) -> None:
    """Show each tenant's services as the cluster runs them: desired and ready replicas,
    pending pods and why (TENANT limits it to one tenant).

    \b
    Exit codes, for CI smoke tests:
      0  every service is ready
      3  a service is not ready (progressing, degraded or not deployed; with
         --wait, still not ready when --wait-timeout ran out)
      1  an error (bad specs, cluster unreachable, ...)"""
    status(ctx, StatusArgs(**opts))


def status(ctx: click.Context, args: StatusArgs) -> None:
    from ecpctl.views.status import status_human, status_json

    view = choose(ctx, "status", args.as_json, human=status_human, body=status_json)
    # the workspace's own provider settings (its kubeconfig, context, namespace prefix)
    workspace = ctx.obj.workspace if ctx.obj is not None else None
    result = _collect_status(args, workspace)
    deadline = time.monotonic() + args.wait_timeout
    while args.wait and not result.all_ready and time.monotonic() < deadline:
        time.sleep(min(WAIT_POLL, max(0.0, deadline - time.monotonic())))
        result = _collect_status(args, workspace)
    view.show(result)
    if not result.all_ready:
        ctx.exit(NOT_READY_EXIT)


def _collect_status(args: StatusArgs, workspace: str | None = None):
    from ecpctl.cli.options import provider_options
    from ecpctl.engine import desired_state, provider_settings
    from ecpctl.views.status import Status, TenantStatus
    from providers.kubernetes import KubernetesProvider
    from providers.kubernetes.client import KubeError, to_provider_error
    from providers.kubernetes.status import collect
    from providers.registry import ProviderSet

    desired = desired_state(args.spec_path, workspace=workspace)
    tenants = [lt.tenant.metadata.name for lt in desired.config.tenants]
    if args.tenant is not None and args.tenant not in tenants:
        raise EcpctlError(f"no tenant {args.tenant} in {args.spec_path}"
                          + (f" (it has: {', '.join(tenants)})" if tenants else ""))
    wanted = [r for r in desired.resources if r.provider == "kubernetes"
              and (args.tenant is None or r.tenant == args.tenant)]
    providers = ProviderSet(provider_settings(desired.config),
                            provider_options(kubeconfig=args.kubeconfig,
                                             kube_context=args.kube_context))
    try:
        provider = providers.get("kubernetes")
        if not isinstance(provider, KubernetesProvider):
            raise EcpctlError("status needs the built-in kubernetes provider")
        try:
            rows = collect(provider.client, wanted)
        except KubeError as exc:
            raise to_provider_error(exc, "status: list", "deployments and pods",
                                    server=provider.client.server) from exc
    finally:
        providers.close()
    namespaces = {r.tenant: r.name for r in wanted if r.type == "v1.Namespace"}
    return Status(tenants=tuple(
        TenantStatus(tenant=tid, namespace=namespaces.get(tid),
                     services=tuple(r for r in rows if r.tenant == tid))
        for tid in tenants if args.tenant is None or tid == args.tenant))
