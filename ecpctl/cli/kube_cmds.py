"""status (tenants as the cluster runs them) and render (Kubernetes manifests as files for GitOps)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ecpctl.cli.context import CliContext
from ecpctl.cli.options import provider_options
from ecpctl.cli.output import console
from ecpctl.kernel import EcpctlError

STATUS_FORMAT_VERSION = 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def register(cli: click.Group) -> None:
    @cli.command("status")
    @click.argument("tenant", required=False)
    @click.option("-p", "--path", "spec_path", default=".", show_default=True,
                  type=click.Path(exists=True, path_type=Path),
                  help="Spec files (a file or a directory) that declare the tenants.")
    @click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
    @click.option("--kubeconfig", envvar="KUBECONFIG", default=None, metavar="PATH",
                  help="Kubeconfig (overrides the Project; env KUBECONFIG).")
    @click.option("--context", "kube_context", default=None, metavar="NAME",
                  help="Kubeconfig context to use.")
    @click.pass_obj
    def status_cmd(obj: CliContext, tenant, spec_path, as_json, kubeconfig, kube_context):
        """Show each tenant's services as the cluster runs them: desired and ready replicas,
        pending pods and why (TENANT limits it to one tenant)."""
        from ecpctl.engine import desired_state, provider_settings
        from providers.kubernetes import KubernetesProvider
        from providers.kubernetes.client import KubeError, to_provider_error
        from providers.kubernetes.status import collect
        from providers.registry import ProviderSet

        desired = desired_state(spec_path)
        tenants = [lt.tenant.metadata.name for lt in desired.config.tenants]
        if tenant is not None and tenant not in tenants:
            raise EcpctlError(f"no tenant {tenant} in {spec_path}"
                              + (f" (it has: {', '.join(tenants)})" if tenants else ""))
        wanted = [r for r in desired.resources if r.provider == "kubernetes"
                  and (tenant is None or r.tenant == tenant)]
        providers = ProviderSet(provider_settings(desired.config),
                                provider_options(kubeconfig=kubeconfig, kube_context=kube_context))
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
        namespaces = {}
        for r in wanted:
            if r.type == "v1.Namespace":
                namespaces[r.tenant] = r.name
        if as_json:
            doc = {"format_version": STATUS_FORMAT_VERSION, "tenants": []}
            for tid in (t for t in tenants if tenant is None or t == tenant):
                doc["tenants"].append({
                    "tenant": tid, "namespace": namespaces.get(tid),
                    "services": [r.to_dict() for r in rows if r.tenant == tid]})
            click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
            return
        con = console()
        if not rows:
            con.print("No services declared.", markup=False)
            return
        head = ("TENANT", "SERVICE", "DESIRED", "READY", "AVAILABLE", "STATUS")
        table = [head] + [(r.tenant, r.service,
                           "-" if r.desired_replicas is None else str(r.desired_replicas),
                           str(r.ready_replicas), str(r.available_replicas), r.status)
                          for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        for row in table:
            con.print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), markup=False)
        problems = [(r, p) for r in rows for p in r.problems]
        if problems:
            con.print()
            for r, p in problems:
                pending = f" ({_plural(r.pending_pods, 'pending pod')})" if r.pending_pods else ""
                con.print(f"{r.tenant}/{r.service}{pending}: {p}", markup=False)
        not_ok = [r for r in rows if r.status != "ready"]
        con.print()
        con.print(f"{len(rows) - len(not_ok)}/{_plural(len(rows), 'service')} ready.", markup=False)

    @cli.command("render")
    @click.argument("path", default=".", type=click.Path(exists=True, path_type=Path))
    @click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path),
                  help="Directory to write the manifests to (one subdirectory per tenant).")
    @click.option("--tenant", default=None, metavar="ID", help="Only this tenant.")
    def render_cmd(path, out_dir, tenant):
        """Write the Kubernetes manifests of the tenants in PATH as YAML files, for GitOps tools.

        Needs no cluster and no state; the output is byte-for-byte stable between runs. Secret
        values are not written (see docs/providers/kubernetes.md)."""
        from ecpctl.engine import desired_state
        from providers.kubernetes.render import render_manifests, write_tree

        desired = desired_state(path)
        if tenant is not None and desired.config.tenant(tenant) is None:
            raise EcpctlError(f"--tenant {tenant}: no such tenant in {path}")
        resources = [r for r in desired.resources if tenant is None or r.tenant == tenant]
        try:
            files = render_manifests(resources)
        except ValueError as exc:
            raise EcpctlError(f"render: {exc}") from exc
        try:
            changed, removed = write_tree(files, out_dir, only=[tenant] if tenant else None)
        except OSError as exc:
            raise EcpctlError(f"render: cannot write {out_dir}: {exc.strerror or exc}") from exc
        con = console()
        tenants = sorted({p.split("/")[0] for p in files})
        con.print(f"Rendered {_plural(len(files), 'manifest')} for {_plural(len(tenants), 'tenant')} "
                  f"into {out_dir} ({len(changed)} written, {len(removed)} removed, "
                  f"{len(files) - len(changed)} unchanged).", markup=False)

