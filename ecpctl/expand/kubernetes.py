"""A tenant's Kubernetes objects: namespace, guard rails, one Deployment/Service/HPA/PDB per service."""

from __future__ import annotations

import base64
from typing import Any

from ecpctl.expand import policy
from ecpctl.expand.context import MANAGED_BY, TENANT_LABEL, Builder, ExpandContext
from ecpctl.kernel.quantity import format_cpu, format_memory

GPU = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
PROVIDER = "kubernetes"


def ktype(obj: dict[str, Any]) -> str:
    return f"{obj['apiVersion']}.{obj['kind']}"


def labels(tenant_id: str, **extra: str) -> dict[str, str]:
    out = {**MANAGED_BY, TENANT_LABEL: tenant_id, "app.kubernetes.io/part-of": "ecp-ai"}
    out.update(extra)
    return dict(sorted(out.items()))


def add_object(b: Builder, obj: dict[str, Any], *, depends_on=(), sensitive=()) -> str:
    return b.add(PROVIDER, ktype(obj), obj["metadata"]["name"], obj,
                 depends_on=tuple(depends_on), sensitive=tuple(sensitive))


def meta(name: str, namespace: str | None, lbls: dict[str, str], annotations=None) -> dict:
    m: dict[str, Any] = {"name": name}
    if namespace:
        m["namespace"] = namespace
    m["labels"] = lbls
    if annotations:
        m["annotations"] = dict(sorted(annotations.items()))
    return m


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def expand_kubernetes(b: Builder, ctx: ExpandContext, lt, sizing, *, db: dict | None,
                      db_deps: tuple[str, ...], backup=None) -> dict[str, str]:
    """Adds the tenant's core Kubernetes objects; returns addresses by role for later dependencies."""
    t = lt.tenant
    tid = t.metadata.name
    spec = t.spec
    ns = ctx.namespace_prefix + tid
    policy.check_tenant(lt, ctx.project, [
        (s.service, {"requests": {"cpu": format_cpu(s.cpu_request_m),
                                  "memory": format_memory(s.memory_request_mi)},
                     "limits": {"cpu": format_cpu(s.cpu_limit_m),
                                "memory": format_memory(s.memory_limit_mi)}})
        for s in sizing.services], services=len(sizing.services),
        claims=1 if backup is not None and backup.creates_claim else 0)
    base = labels(tid)
    # label values allow [A-Za-z0-9._-]: the tier above large ("large+") is labelled "large-plus"
    ns_labels = labels(tid, **{"ecp.ai/preset": sizing.preset.replace("+", "-plus")})
    if spec.demo:
        ns_labels["ecp.ai/demo"] = "true"
    ns_labels.update(t.metadata.labels)
    ns_annotations = {"ecp.ai/display-name": t.metadata.displayName} if t.metadata.displayName else None
    addrs: dict[str, str] = {}
    addrs["namespace"] = ns_addr = add_object(b, {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": meta(ns, None, dict(sorted(ns_labels.items())), ns_annotations)})
    in_ns = (ns_addr,)

    addrs["quota"] = add_object(b, {
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": meta("ecp-ai-quota", ns, base),
        "spec": {"hard": policy.quota_hard(ctx.project, sizing.quota_hard(), backup.quota_extra()
                                           if backup is not None else {})}}, depends_on=in_ns)
    add_object(b, {
        "apiVersion": "v1", "kind": "LimitRange",
        "metadata": meta("ecp-ai-limits", ns, base),
        "spec": policy.limit_range_spec(ctx.project)}, depends_on=in_ns)
    sa = add_object(b, {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": meta("ecp-ai", ns, base),
        "automountServiceAccountToken": False}, depends_on=in_ns)
    addrs["serviceaccount"] = sa

    config_data = {
        "TENANT_ID": tid,
        "TENANT_PRESET": sizing.preset,
        "SLA_AVAILABILITY": f"{spec.sla.availability}%",
        "SLA_RESPONSE_TIME_MS": str(spec.sla.responseTime),
        "GPU_TYPE": spec.gpuType,
    }
    for svc in sizing.services:
        config_data[f"{svc.service.upper()}_MAX_SESSIONS"] = str(svc.sessions)
    if db:
        config_data.update({"PGHOST": db["host"], "PGPORT": str(db["port"]),
                            "PGDATABASE": db["database"], "PGUSER": db["user"]})
    cm = add_object(b, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": meta("ecp-ai-config", ns, base),
        "data": dict(sorted(config_data.items()))}, depends_on=in_ns)
    addrs["config"] = cm

    env_from = [{"configMapRef": {"name": "ecp-ai-config"}}]
    pod_deps = [sa, cm, addrs["quota"]]
    if db:
        secret = add_object(b, {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": meta("ecp-ai-db", ns, base),
            "type": "Opaque",
            "data": {
                "PGPASSWORD": b64(db["password"]),
                "DATABASE_URL": b64(db["url"]),
            }}, depends_on=in_ns + db_deps, sensitive=("data",))
        addrs["secret"] = secret
        env_from.append({"secretRef": {"name": "ecp-ai-db"}})
        pod_deps.append(secret)

    for svc in sizing.services:
        name = svc.service
        sel = {"app.kubernetes.io/name": name, TENANT_LABEL: tid}
        pod_labels = labels(tid, **{"app.kubernetes.io/name": name, "ecp.ai/service": name})
        # the service's Deployment, Service, HPA and PDB have equal metadata, and the Deployment
        # and PDB equal selectors: one object each (desired attributes are never mutated)
        svc_meta = meta(name, ns, pod_labels)
        selector = {"matchLabels": sel}
        requests = {"cpu": format_cpu(svc.cpu_request_m), "memory": format_memory(svc.memory_request_mi)}
        limits = {"cpu": format_cpu(svc.cpu_limit_m), "memory": format_memory(svc.memory_limit_mi)}
        pod_spec: dict[str, Any] = {
            "serviceAccountName": "ecp-ai",
            "containers": [{
                "name": name,
                "image": svc.image,
                "imagePullPolicy": spec.image.pullPolicy,
                "ports": [{"name": "http", "containerPort": svc.port, "protocol": "TCP"}],
                "env": [
                    {"name": "SERVICE_TYPE", "value": name},
                    {"name": "MAX_SESSIONS", "value": str(svc.sessions)},
                ],
                "envFrom": env_from,
                "resources": {"requests": requests, "limits": limits},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                   "periodSeconds": 10},
            }],
        }
        if svc.gpus_per_replica:
            requests[svc.gpu_resource] = str(svc.gpus_per_replica)   # a MIG or shared GPU too
            limits[svc.gpu_resource] = str(svc.gpus_per_replica)
            pod_spec["tolerations"] = [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}]
            product = ctx.project.spec.gpuProducts.get(spec.gpuType)
            if product:     # the GPU type places the pod (docs/capacity.md)
                pod_spec["nodeSelector"] = {GPU_PRODUCT_LABEL: product}
        deploy = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": svc_meta,
            "spec": {
                "replicas": svc.replicas,
                "selector": selector,
                # surge only where the quota leaves room for one more pod (sizing decides)
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": svc.max_unavailable,
                                               "maxSurge": svc.max_surge}},
                "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
            },
        }
        d_addr = add_object(b, deploy, depends_on=pod_deps + [ns_addr])
        addrs[f"deployment.{name}"] = d_addr
        add_object(b, {
            "apiVersion": "v1", "kind": "Service",
            "metadata": svc_meta,
            "spec": {"type": "ClusterIP", "selector": sel,
                     "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                "protocol": "TCP"}]}}, depends_on=in_ns)
        if spec.autoscaling.enabled:
            add_object(b, {
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": svc_meta,
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": svc.replicas,
                    "maxReplicas": svc.max_replicas,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu", "target": {
                            "type": "Utilization",
                            "averageUtilization": spec.autoscaling.targetCPUUtilization}}}],
                }}, depends_on=(d_addr,))
        pdb_spec: dict[str, Any] = {"selector": selector}
        if svc.min_available:
            pdb_spec["minAvailable"] = svc.min_available
        else:
            pdb_spec["maxUnavailable"] = 1
        add_object(b, {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": svc_meta, "spec": pdb_spec}, depends_on=in_ns)

    ingress_from = [{"podSelector": {}},
                    {"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": "monitoring"}}}]
    if spec.ingress is not None:
        ingress_from.append({"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "ingress-nginx"}}})
    np_spec: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"],
                               "ingress": [{"from": ingress_from}]}
    egress = policy.egress_rules(ctx.project, db, backup.egress_ports() if backup is not None else ())
    if egress is not None:
        np_spec["policyTypes"] = ["Ingress", "Egress"]
        np_spec["egress"] = egress
    add_object(b, {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": meta("ecp-ai-default", ns, base), "spec": np_spec}, depends_on=in_ns)

    if spec.ingress is not None and sizing.services:
        ing = spec.ingress
        ing_spec: dict[str, Any] = {"rules": [{"host": ing.host, "http": {"paths": [
            {"path": f"/{s.service}", "pathType": "Prefix",
             "backend": {"service": {"name": s.service, "port": {"number": 80}}}}
            for s in sizing.services]}}]}
        if ing.className:
            ing_spec["ingressClassName"] = ing.className
        if policy.tls_secret(ing):
            ing_spec["tls"] = [{"hosts": [ing.host], "secretName": policy.tls_secret(ing)}]
        add_object(b, {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": meta("ecp-ai", ns, base, policy.ingress_annotations(ing) or None),
            "spec": ing_spec}, depends_on=in_ns)
    addrs["ns_name"] = ns
    return addrs
