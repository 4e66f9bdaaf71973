"""Gathers `tenants --summary` (ecpctl/fleet.py) from the places the Project names: the cluster's
nodes through the Kubernetes provider's client, the utilisation through Prometheus' HTTP API.
Neither is required; a read that fails becomes a reason in the summary, never an exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecpctl.kernel import EcpctlError


def _project(spec_path: Path | None, workspace: str):
    from ecpctl.config import load_config
    from ecpctl.workspaces import for_workspace
    try:
        return for_workspace(load_config(spec_path if spec_path is not None else Path(".")),
                             workspace)
    except EcpctlError:
        if spec_path is not None:
            raise                        # asked for by name: its problems are reported
        return None                      # the current directory holds no specs: nothing named


def collect(workspace: str, records, args) -> Any:
    from ecpctl import fleet

    config = _project(args.spec_path, workspace)
    project = config.project.spec.providers if config is not None else None
    providers = None
    list_nodes = None
    if args.kubeconfig or (project is not None and project.kubernetes is not None):
        from ecpctl.cli.options import provider_options
        from ecpctl.engine import provider_settings
        from providers.registry import ProviderSet
        providers = ProviderSet(provider_settings(config),
                                provider_options(kubeconfig=args.kubeconfig,
                                                 kube_context=args.kube_context))
        list_nodes = _node_lister(providers)
    url = args.prometheus_url
    if not url and project is not None and project.prometheus is not None and project.prometheus.url:
        url = str(project.prometheus.url)
    api = None
    try:
        cap = fleet.capacity(list_nodes)
        query = None
        if url:
            from providers.prometheus.server import PrometheusAPI
            api = PrometheusAPI(url, timeout=10)
            query = api.query
        use = fleet.utilisation(query, url, (r.tenant_id for r in records))
    finally:
        if api is not None:
            api.close()
        if providers is not None:
            providers.close()
    return fleet.summarize(workspace, records, cap, use)


def _node_lister(providers):
    def list_nodes():
        from providers.kubernetes import KubernetesProvider
        from providers.kubernetes.client import KubeError, to_provider_error
        from providers.kubernetes.kinds import builtin
        from providers.kubernetes.read import list_objects

        provider = providers.get("kubernetes")
        if not isinstance(provider, KubernetesProvider):
            raise EcpctlError("the summary needs the built-in kubernetes provider")
        try:
            return list_objects(provider.client, builtin("v1", "Node"), selector=None)
        except KubeError as exc:
            raise to_provider_error(exc, "list", "nodes", server=provider.client.server) from exc
    return list_nodes
