"""Which cluster the provider talks to: the API server URL, the kubeconfig context, and an
identity that survives renames of both (the UID of the `kube-system` namespace, made once when the
cluster is created). A saved plan is bound to it (docs/ownership.md, "Target binding")."""

from __future__ import annotations

from typing import Any

from providers.kubernetes.client import KubeClient, KubeError


def current_context(client: KubeClient) -> str | None:
    conn = client.connection
    if conn.in_cluster:
        return None
    if conn.context:
        return conn.context
    from kubernetes import config as kconfig
    try:
        _, active = kconfig.list_kube_config_contexts(config_file=conn.kubeconfig)
    except Exception:  # noqa: BLE001 - the context is for display: an unreadable one is unknown
        return None
    return (active or {}).get("name")


def cluster_target(client: KubeClient) -> dict[str, Any]:
    try:
        ns = client.request("GET", "/api/v1/namespaces/kube-system", verb="get") or {}
        uid = (ns.get("metadata") or {}).get("uid")
    except KubeError:
        uid = None       # not allowed to read it: the server URL is the identity left
    return {"server": client.server, "context": current_context(client),
            "cluster_uid": uid, "identity": f"kube-system uid {uid}" if uid else client.server}
