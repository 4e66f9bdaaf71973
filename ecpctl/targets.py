"""Plans bound to their targets: what each provider resolved to when the plan was made (API server
URL, context and cluster identity; Postgres host, port, database and system identifier; Grafana and
Alertmanager URLs), and the check that a saved plan is applied to those same targets
(docs/ownership.md, "Target binding")."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from ecpctl.kernel import EcpctlError
from providers.registry import ProviderSet

Targets = Mapping[str, Mapping[str, Any]]


def resolve(providers: ProviderSet) -> dict[str, dict[str, Any]]:
    """provider -> its target, for every provider the plan used (configured)."""
    out = {}
    for name, provider in sorted(providers.configured().items()):
        target = dict(provider.target())
        if target:
            out[name] = target
    return out


def describe(target: Mapping[str, Any]) -> str:
    """One line: where, then the identity when it says more than where."""
    if "server" in target:
        ctx = f", context {target['context']}" if target.get("context") else ""
        uid = f", cluster kube-system uid {target['cluster_uid']}" if target.get("cluster_uid") else ""
        return f"{target['server']}{ctx}{uid}"
    if "host" in target:
        where = f"{target['host']}:{target['port']}/{target['database']}"
        sid = target.get("system_identifier")
        return f"{where} (system identifier {sid})" if sid else where
    if "url" in target:
        return str(target["url"])
    return str(target.get("identity", ""))


def check_bound(saved: Targets, providers: ProviderSet) -> None:
    """Refuse when a provider now points elsewhere than when the plan was made, naming both."""
    moved = []
    for name, was in sorted(saved.items()):
        now = dict(providers.get(name).target())
        if now.get("identity") != was.get("identity"):
            moved.append(f"{name}: the plan was made against {describe(was)}, but the current "
                         f"target is {describe(now)}")
    if moved:
        raise EcpctlError("saved plan refused: it was made for other targets; "
                          + "; ".join(moved) + " (plan again against this target, or select "
                          "the one the plan was made for with --kubeconfig/--context or the DSN)")
