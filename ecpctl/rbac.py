"""Least-privilege Kubernetes RBAC for what a plan manages: the rules ecpctl needs, derived from
the kinds of the desired resources (never a hand list), and the objects that grant them.

`rules_for()` is shared by `ecpctl rbac` (which prints the ServiceAccount, ClusterRole or Roles,
and bindings) and `ecpctl doctor` (which asks the API server whether the current identity has
each rule, with SelfSubjectAccessReview).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable, Mapping

from ecpctl.kernel import Resource
from providers.kubernetes import kinds

# Server-side apply of an object that does not exist yet is authorized as `create` as well as
# `patch`; reads are LISTs by label plus a GET for what state holds but the LIST missed; a plan's
# dry-run is a `patch` too.
MANAGED_VERBS = ("create", "delete", "get", "list", "patch")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
LABELS = {"app.kubernetes.io/name": "ecpctl", "app.kubernetes.io/component": "rbac"}


@dataclass(frozen=True)
class Rule:
    """One API resource, the verbs ecpctl sends to it, and why (shown in comments and by doctor)."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    namespaced: bool
    why: str

    @property
    def resource_name(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


def _info(rtype: str) -> kinds.KindInfo:
    api_version, kind = kinds.split_type(rtype)
    info = kinds.builtin(api_version, kind)
    if info is not None:
        return info
    # a custom kind ecpctl does not know: the plural its CRD would normally use; custom kinds
    # are namespaced unless a CRD in the plan says otherwise
    return kinds.KindInfo(api_version, kind, kinds.guess_plural(kind), True)


def rules_for(resources: Iterable[Resource]) -> tuple[Rule, ...]:
    """The rules for the kubernetes resources among `resources`, merged per API resource."""
    merged: dict[tuple[str, str], tuple[set[str], bool, list[str]]] = {}

    def add(group: str, resource: str, verbs: Iterable[str], namespaced: bool, why: str) -> None:
        verbs_, ns, whys = merged.setdefault((group, resource), (set(), namespaced, []))
        verbs_.update(verbs)
        if why not in whys:
            whys.append(why)

    found_kinds: set[str] = set()
    for r in resources:
        if r.provider != "kubernetes":
            continue
        info = _info(r.type)
        found_kinds.add(info.kind)
        add(info.group, info.plural, MANAGED_VERBS, info.namespaced, "managed by the plan")
    if not found_kinds:
        return ()
    # namespaces are listed without a selector (whether one exists decides how objects in it are
    # planned), even when the plan holds none of them
    add("", "namespaces", ("list",), False, "existing namespaces, for planning")
    if found_kinds & set(WORKLOADS):
        add("", "nodes", ("list",), False, "capacity check: allocatable CPU, memory and GPUs")
        add("", "pods", ("list",), True, "readiness and status: why pods are not ready")
        add("", "events", ("list",), True, "readiness: the reasons of warning events")
    if "Deployment" in found_kinds:
        add("apps", "deployments", ("list",), True, "status")
        add("autoscaling", "horizontalpodautoscalers", ("list",), True,
            "which Deployments an autoscaler scales: their replicas are left to it")
    return tuple(Rule(g, res, tuple(sorted(v)), ns, "; ".join(whys))
                 for (g, res), (v, ns, whys) in sorted(merged.items()))


def policy_rules(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """RBAC `rules`: one per API group and verb set, resources sorted, stable across runs."""
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for r in rules:
        grouped.setdefault((r.group, r.verbs), []).append(r.resource)
    return [{"apiGroups": [g], "resources": sorted(res), "verbs": list(verbs)}
            for (g, verbs), res in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[1][0]))]


@dataclass(frozen=True)
class Grant:
    """What to create so that a ServiceAccount may run ecpctl for one plan."""

    service_account: str
    namespace: str
    rules: tuple[Rule, ...]
    namespaced: bool
    tenant_namespaces: tuple[str, ...]

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    def objects(self) -> list[dict[str, Any]]:
        sa, ns = self.service_account, self.namespace
        subject = [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
        out: list[dict[str, Any]] = []
        if ns not in ("default", "kube-system"):
            out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": _metadata(ns, None)})
        out.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(sa, ns)})
        cluster = [r for r in self.rules if not (self.namespaced and r.namespaced)]
        local = [r for r in self.rules if self.namespaced and r.namespaced]
        out.append(_role("ClusterRole", sa, None, cluster))
        out.append(_binding("ClusterRoleBinding", sa, None, "ClusterRole", subject))
        for tns in self.tenant_namespaces if local else ():
            out.append(_role("Role", sa, tns, local))
            out.append(_binding("RoleBinding", sa, tns, "Role", subject))
        return out


def _metadata(name: str, namespace: str | None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if namespace:
        md["namespace"] = namespace
    md["labels"] = dict(LABELS)
    return md


def _role(kind: str, name: str, namespace: str | None, rules: list[Rule]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": _metadata(name, namespace), "rules": policy_rules(rules)}


def _binding(kind: str, name: str, namespace: str | None, role_kind: str,
             subjects: list[dict[str, str]]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": _metadata(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
            "subjects": subjects}


def grant_for(resources: Iterable[Resource], *, service_account: str, namespace: str,
              namespaced: bool) -> Grant:
    resources = [r for r in resources if r.provider == "kubernetes"]
    # and the namespaces ecpctl puts objects in without creating them (the fleet dashboard's)
    tenant_ns = sorted({r.attributes["metadata"]["name"] for r in resources
                        if r.type == "v1.Namespace"}
                       | {ns for r in resources
                          if (ns := r.attributes["metadata"].get("namespace"))})
    return Grant(service_account, namespace, rules_for(resources), namespaced, tuple(tenant_ns))


KUBECONFIG_SCRIPT = """\
#!/bin/sh
# Make a kubeconfig for CI that signs in as the ServiceAccount {namespace}/{sa}.
# Run it with an admin kubeconfig after applying the RBAC objects; it writes ./ecpctl-ci.kubeconfig.
# The token is short-lived by design (TokenRequest API): DURATION=8760h for a year, or make a new
# one per CI run. Store the file as a CI secret; it is as powerful as the ClusterRole it binds.
set -eu
NS={namespace}
SA={sa}
OUT=${{OUT:-ecpctl-ci.kubeconfig}}
TOKEN=$(kubectl create token "$SA" -n "$NS" --duration="${{DURATION:-24h}}")
SERVER=$(kubectl config view --minify --raw -o jsonpath='{{.clusters[0].cluster.server}}')
CA=$(kubectl config view --minify --raw -o jsonpath='{{.clusters[0].cluster.certificate-authority-data}}')
umask 077
cat > "$OUT" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ecpctl-target
  cluster:
    server: $SERVER
    certificate-authority-data: $CA
users:
- name: $SA
  user:
    token: $TOKEN
contexts:
- name: ecpctl
  context:
    cluster: ecpctl-target
    user: $SA
current-context: ecpctl
EOF
echo "wrote $OUT (ServiceAccount $NS/$SA)"
"""


def kubeconfig_script(grant: Grant) -> str:
    return KUBECONFIG_SCRIPT.format(namespace=grant.namespace, sa=grant.service_account)


def rule_json(r: Rule) -> Mapping[str, Any]:
    return {"apiGroup": r.group, "resource": r.resource, "verbs": list(r.verbs),
            "namespaced": r.namespaced, "why": r.why}
