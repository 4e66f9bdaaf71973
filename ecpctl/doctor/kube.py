"""Kubernetes preflight: server version, nodes, GPUs, the CRDs ecpctl's modes need, whether a
Prometheus selects ecpctl's rules, and whether the current identity holds every rule `ecpctl rbac`
derives from the plan (asked with SelfSubjectAccessReview)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from collections.abc import Iterator, Mapping

from ecpctl import rbac
from ecpctl.doctor.checks import Check, Status, version_tuple
from providers.kubernetes import capacity, kinds
from providers.kubernetes.client import KubeClient, KubeError, NotConfigured, resolve_connection
from providers.kubernetes.discovery import Discovery
from providers.kubernetes.read import list_objects

TARGET = "kubernetes"
MIN_VERSION = (1, 24)
RECOMMENDED_NODES = 3
GPU = "nvidia.com/gpu"
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
RBAC_FIX = "apply the output of `ecpctl rbac PATH` with an admin's kubeconfig"


def _check(name: str, status: Status, detail: str, fix: str = "") -> Check:
    return Check(TARGET, name, status, detail, fix)


def checks(desired, settings: Mapping[str, Any] | None, options: Mapping[str, Any]) -> list[Check]:
    k8s = [r for r in desired.resources if r.provider == "kubernetes"]
    if settings is None and not k8s:
        return [_check("Kubernetes", Status.SKIP, "not configured (spec.providers.kubernetes)")]
    try:
        client = KubeClient(resolve_connection(settings or {}, options))
    except NotConfigured as exc:
        return [_check("Kubernetes API", Status.FAIL, str(exc),
                       "set spec.providers.kubernetes.kubeconfig, --kubeconfig or KUBECONFIG")]
    try:
        return list(_run(client, desired, k8s))
    finally:
        client.close()


def _run(client: KubeClient, desired, k8s) -> Iterator[Check]:
    try:
        version = client.request("GET", "/version", verb="get") or {}
    except KubeError as exc:
        yield _check("Kubernetes API", Status.FAIL,
                     f"cannot reach {client.server}: {exc.message or exc.reason}",
                     "check the kubeconfig and --context, and that the API server is up")
        return
    git = str(version.get("gitVersion") or "unknown")
    ok = version_tuple(git)[:2] >= MIN_VERSION
    yield _check("Kubernetes version", Status.PASS if ok else Status.FAIL,
                 f"{git} at {client.server} (needs 1.24 or newer)",
                 "" if ok else "upgrade the cluster to Kubernetes 1.24 or newer")
    yield from _nodes(client, k8s)
    yield from _crds(client, desired, k8s)
    yield _permissions(client, k8s)


def _ready(node: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ())


def _nodes(client: KubeClient, k8s) -> Iterator[Check]:
    info = kinds.builtin("v1", "Node")
    assert info is not None
    try:
        nodes = list_objects(client, info, selector=None)
    except KubeError as exc:
        yield _check("Nodes", Status.FAIL, f"cannot list nodes: {exc}", RBAC_FIX)
        yield _check("GPU device plugin", Status.SKIP, "nodes could not be listed")
        return
    ready = [n for n in nodes if _ready(n)]
    status = Status.FAIL if not ready else Status.WARN if len(ready) < RECOMMENDED_NODES else Status.PASS
    yield _check("Nodes", status,
                 f"{len(ready)} of {len(nodes)} nodes ready (the documents ask for "
                 f"{RECOMMENDED_NODES} or more)",
                 "" if status is Status.PASS else "add worker nodes")
    gpus = {n["metadata"]["name"]: capacity.parse(GPU, (n.get("status") or {}).get(
        "allocatable", {}).get(GPU, 0)) for n in ready}
    offering = {k: v for k, v in gpus.items() if v > 0}
    needed = sum(need.total.get(GPU, 0) for need in capacity.tenant_needs(k8s).values())
    if offering:
        yield _check("GPU device plugin", Status.PASS,
                     f"{len(offering)} nodes offer {GPU} ({sum(offering.values())} GPUs; the "
                     f"tenants request {needed})")
    else:
        yield _check("GPU device plugin", Status.FAIL if needed else Status.WARN,
                     f"no ready node offers {GPU}" + (f"; the tenants request {needed} GPUs"
                                                      if needed else ""),
                     "install the NVIDIA GPU Operator (or its device plugin) on the GPU nodes")


def _needed_kinds(desired, k8s) -> list[tuple[str, str]]:
    wanted = {("monitoring.coreos.com/v1", "PrometheusRule"),
              ("monitoring.coreos.com/v1", "ServiceMonitor")}
    if desired.config.project.spec.monitoring.alertmanagerMode == "kubernetes":
        wanted.add(("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"))
    for r in k8s:
        api_version, kind = kinds.split_type(r.type)
        if not kinds.is_builtin_group(api_version):
            wanted.add((api_version, kind))
    return sorted(wanted, key=lambda t: t[1])


def _crds(client: KubeClient, desired, k8s) -> Iterator[Check]:
    discovery = Discovery(client)
    try:
        discovery.load()
        missing = [(v, k) for v, k in _needed_kinds(desired, k8s) if discovery.info(v, k) is None]
    except KubeError as exc:
        yield _check("CRDs", Status.FAIL, f"cannot read the API server's discovery: {exc}")
        return
    names = ", ".join(k for _, k in _needed_kinds(desired, k8s))
    if missing:
        yield _check("CRDs", Status.FAIL,
                     "missing " + ", ".join(f"{k} ({kinds.crd_name(v, k)})" for v, k in missing),
                     "install the prometheus-operator CRDs (kube-prometheus-stack), or set "
                     "spec.monitoring.alertmanagerMode: file")
    else:
        yield _check("CRDs", Status.PASS, f"{names} served")
    yield _rule_selector(client, discovery, desired, k8s)


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector against labels; None (unset) selects nothing, {} everything,
    as the prometheus-operator reads ruleSelector and ruleNamespaceSelector."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or ():
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _rule_selector(client: KubeClient, discovery: Discovery, desired, k8s) -> Check:
    name = "Prometheus rule selector"
    info = discovery.info("monitoring.coreos.com/v1", "Prometheus")
    if info is None:
        return _check(name, Status.SKIP, "no Prometheus CRD: nothing here loads PrometheusRules")
    try:
        proms = list_objects(client, info, selector=None)
    except KubeError as exc:
        return _check(name, Status.SKIP, f"cannot list Prometheus objects ({exc.reason})")
    if not proms:
        return _check(name, Status.SKIP, "no Prometheus object in the cluster")
    rule_labels = dict(desired.config.project.spec.monitoring.ruleLabels)
    rule = next((r for r in k8s if r.type.endswith(".PrometheusRule")), None)
    if rule is not None:
        rule_labels = dict(rule.attributes["metadata"].get("labels") or {})
    ns_labels = next((dict(r.attributes["metadata"].get("labels") or {}) for r in k8s
                      if r.type == "v1.Namespace"), {})
    problems = []
    for p in proms:
        spec, md = p.get("spec") or {}, p.get("metadata") or {}
        who = f"{md.get('namespace')}/{md.get('name')}"
        if not selects(spec.get("ruleSelector"), rule_labels):
            problems.append(f"{who} ruleSelector {spec.get('ruleSelector')} does not match "
                            f"the rules' labels")
        elif not selects(spec.get("ruleNamespaceSelector"), {**ns_labels,
                                                             "kubernetes.io/metadata.name": "x"}):
            problems.append(f"{who} ruleNamespaceSelector {spec.get('ruleNamespaceSelector')} "
                            "leaves out the tenant namespaces")
        else:
            return _check(name, Status.PASS, f"{who} selects ecpctl's PrometheusRules "
                          f"({', '.join(f'{k}={v}' for k, v in sorted(rule_labels.items()))})")
    return _check(name, Status.FAIL, "; ".join(problems),
                  "set spec.monitoring.ruleLabels in the Project to what the ruleSelector asks, "
                  "and ruleNamespaceSelector: {} on the Prometheus")


def _allowed(client: KubeClient, group: str, resource: str, verb: str, namespace: str | None) -> bool:
    attrs = {"group": group, "resource": resource, "verb": verb}
    if namespace:
        attrs["namespace"] = namespace
    doc = client.request("POST", SSAR, verb="create", content_type="application/json", body={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs}}) or {}
    return bool((doc.get("status") or {}).get("allowed"))


def _whoami(client: KubeClient) -> str:
    try:
        doc = client.request("POST", WHOAMI, verb="create", content_type="application/json",
                             body={"apiVersion": "authentication.k8s.io/v1",
                                   "kind": "SelfSubjectReview"}) or {}
    except KubeError:
        return "the current identity"
    return ((doc.get("status") or {}).get("userInfo") or {}).get("username") or "the current identity"


def _permissions(client: KubeClient, k8s) -> Check:
    name = "Permissions"
    rules = rbac.rules_for(k8s)
    if not rules:
        return _check(name, Status.SKIP, "the plan manages no Kubernetes objects")
    tenant_ns = sorted({r.attributes["metadata"]["name"] for r in k8s if r.type == "v1.Namespace"})

    def ok(item: tuple[rbac.Rule, str]) -> bool:
        rule, verb = item
        if _allowed(client, rule.group, rule.resource, verb, None):
            return True
        # granted per namespace (`ecpctl rbac --namespaced`): every tenant namespace must allow it
        return rule.namespaced and bool(tenant_ns) and all(
            _allowed(client, rule.group, rule.resource, verb, ns) for ns in tenant_ns)

    items = [(r, v) for r in rules for v in r.verbs]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(ok, items))
    except KubeError as exc:
        return _check(name, Status.FAIL, f"cannot ask the API server (SelfSubjectAccessReview): "
                                         f"{exc}")
    who = _whoami(client)
    denied = [f"{v} {r.resource_name}" for (r, v), allowed in zip(items, results) if not allowed]
    if denied:
        shown = ", ".join(denied[:6]) + (f" and {len(denied) - 6} more" if len(denied) > 6 else "")
        return _check(name, Status.FAIL, f"{who} lacks {len(denied)} of {len(items)} permissions "
                                         f"the plan needs: {shown}", RBAC_FIX)
    return _check(name, Status.PASS, f"{who} holds all {len(items)} permissions the plan needs "
                                     f"({len(rules)} resources)")
