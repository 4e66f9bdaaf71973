"""What ecpctl knows about each kind without asking a cluster: REST names, scope, order, immutable paths.

Kinds not listed here (custom resources) are looked up in the cluster's discovery documents.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecpctl.kernel.ownership import MANAGED_BY_SELECTOR  # noqa: F401  (read.py takes it from here)


@dataclass(frozen=True)
class KindInfo:
    """How to address objects of one kind on the API server."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def resource_name(self) -> str:
        """`deployments.apps`, `namespaces`, `prometheusrules.monitoring.coreos.com`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace if self.namespaced else None)}/{name}"


def split_type(rtype: str) -> tuple[str, str]:
    """`apps/v1.Deployment` -> (`apps/v1`, `Deployment`); kinds never contain a dot."""
    api_version, _, kind = rtype.rpartition(".")
    if not api_version or not kind:
        raise ValueError(f"{rtype!r} is not a Kubernetes resource type (<apiVersion>.<Kind>)")
    return api_version, kind


def type_of(api_version: str, kind: str) -> str:
    return f"{api_version}.{kind}"


# (apiVersion, kind) -> (plural, namespaced): the built-in kinds ecpctl creates or reads.
_BUILTIN: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Node"): ("nodes", False),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Event"): ("events", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
    # prometheus-operator: custom resources, listed so that `render` and messages know the names
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("prometheusrules", True),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("servicemonitors", True),
    ("monitoring.coreos.com/v1", "PodMonitor"): ("podmonitors", True),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): ("alertmanagerconfigs", True),
}

# groups whose kinds come from CRDs, and what to install to get them
CRD_HINTS = {
    "monitoring.coreos.com": "install the prometheus-operator CRDs",
}

CRD_TYPE = "apiextensions.k8s.io/v1.CustomResourceDefinition"


def builtin(api_version: str, kind: str) -> KindInfo | None:
    """Static knowledge of a kind; custom kinds still need the cluster's discovery to be trusted."""
    hit = _BUILTIN.get((api_version, kind))
    return KindInfo(api_version, kind, hit[0], hit[1]) if hit else None


def is_builtin_group(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return group == "" or group.endswith(".k8s.io") or "." not in group


def guess_plural(kind: str) -> str:
    """The plural a CRD would normally use: `PrometheusRule` -> `prometheusrules`."""
    low = kind.lower()
    if low.endswith(("s", "x", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def crd_name(api_version: str, kind: str) -> str:
    info = builtin(api_version, kind)
    plural = info.plural if info else guess_plural(kind)
    group = api_version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


# Apply/render order: cluster-scoped definitions first, then namespaces, then what pods need,
# then workloads, then what refers to workloads, then custom resources.
_RANK = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "ResourceQuota": 2, "LimitRange": 2,
    "ServiceAccount": 3, "Role": 3, "ClusterRole": 3, "RoleBinding": 4, "ClusterRoleBinding": 4,
    "ConfigMap": 5, "Secret": 5, "PersistentVolumeClaim": 5,
    "Deployment": 6, "StatefulSet": 6, "DaemonSet": 6, "Job": 6, "CronJob": 6,
    "Service": 7,
    "HorizontalPodAutoscaler": 8, "PodDisruptionBudget": 8, "NetworkPolicy": 8, "Ingress": 8,
}
CUSTOM_RANK = 9


def rank(kind: str) -> int:
    return _RANK.get(kind, CUSTOM_RANK)


# Paths whose change the API server refuses (immutable fields): changing them means delete + create.
_REQUIRES_REPLACE: dict[str, tuple[str, ...]] = {
    "apps/v1.Deployment": ("spec.selector",),
    "apps/v1.StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates",
                            "spec.podManagementPolicy"),
    "apps/v1.DaemonSet": ("spec.selector",),
    "batch/v1.Job": ("spec.selector", "spec.template", "spec.completionMode"),
    "v1.Service": ("spec.clusterIP",),
    "v1.PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes", "spec.volumeMode"),
    "rbac.authorization.k8s.io/v1.RoleBinding": ("roleRef",),
    "rbac.authorization.k8s.io/v1.ClusterRoleBinding": ("roleRef",),
    "apiextensions.k8s.io/v1.CustomResourceDefinition": ("spec.scope",),
    "policy/v1.PodDisruptionBudget": (),
}


def requires_replace(rtype: str) -> tuple[str, ...]:
    return _REQUIRES_REPLACE.get(rtype, ())


# Secret values never enter `observed` (state, plan views): they are replaced by a digest there.
SECRET_TYPE = "v1.Secret"
SECRET_VALUE_FIELDS = ("data", "stringData")
