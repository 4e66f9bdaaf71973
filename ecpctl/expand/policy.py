"""Cluster policy of a tenant namespace, from the Project's `spec.policy`: the LimitRange, the
ResourceQuota's object counts, ingress annotations and the NetworkPolicy's egress allow-list.

Values are checked against what the tenant itself needs, so that a policy that would reject the
tenant's own pods or Services fails at plan time with the field to change, not at apply time.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ecpctl.kernel import ConfigError, Diagnostic
from ecpctl.kernel.quantity import format_cpu, format_memory, parse_cpu, parse_memory

CERT_MANAGER_ISSUER = "cert-manager.io/cluster-issuer"
BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size"
DEFAULT_TLS_SECRET = "ecp-ai-tls"
_PARSE = {"cpu": parse_cpu, "memory": parse_memory}


def _amounts(a) -> dict[str, str]:
    if a is None:
        return {}
    out = {}
    if a.cpu is not None:
        out["cpu"] = format_cpu(parse_cpu(a.cpu))
    if a.memory is not None:
        out["memory"] = format_memory(parse_memory(a.memory))
    return out


def limit_range_spec(project) -> dict[str, Any]:
    lr = project.spec.policy.limitRange
    item: dict[str, Any] = {"type": "Container"}
    for key in ("default", "defaultRequest", "min", "max"):
        amounts = _amounts(getattr(lr, key))
        if amounts:
            item[key] = amounts
    return {"limits": [item]}


def check_tenant(lt, project, containers: list[tuple[str, dict[str, Any]]], *, services: int,
                 claims: int) -> None:
    """Every container's requests and limits inside the LimitRange's min and max, and the quota's
    object counts enough for the tenant's own Services and claims; all problems at once."""
    lr = project.spec.policy.limitRange
    problems: list[Diagnostic] = []
    for name, resources in containers:
        for bound, op in (("min", "below"), ("max", "above")):
            amounts = getattr(lr, bound)
            if amounts is None:
                continue
            for res in ("cpu", "memory"):
                edge = getattr(amounts, res)
                if edge is None:
                    continue
                for kind in ("requests", "limits"):
                    value = (resources.get(kind) or {}).get(res)
                    if value is None:
                        continue
                    v, e = _PARSE[res](value), _PARSE[res](edge)
                    if (v < e) if bound == "min" else (v > e):
                        problems.append(lt.diagnostic(
                            f"{name}: {kind}.{res} {value} is {op} the Project's "
                            f"policy.limitRange.{bound}.{res} {edge}; the API server would reject "
                            "the pod (change the policy or the load)", "spec", "services"))
    counts = project.spec.policy.quotaObjects
    for key, needed in (("services", services), ("persistentvolumeclaims", claims)):
        limit = getattr(counts, key)
        if limit is not None and limit < needed:
            problems.append(lt.diagnostic(
                f"the tenant needs {needed} {key} but the Project's policy.quotaObjects.{key} "
                f"allows {limit}", "spec"))
    if problems:
        raise ConfigError(f"{len(problems)} policy problems", diagnostics=tuple(problems))


def quota_hard(project, hard: dict[str, str], extra: dict[str, int]) -> dict[str, str]:
    """The sized quota plus the backup pod (`extra`) and the Project's object counts."""
    out = dict(hard)
    for key, amount in extra.items():
        if key not in out:
            continue
        if key.endswith(".cpu"):
            out[key] = format_cpu(parse_cpu(out[key]) + amount)
        elif key.endswith(".memory"):
            out[key] = format_memory(parse_memory(out[key]) + amount)
        else:
            out[key] = str(int(out[key]) + amount)
    counts = project.spec.policy.quotaObjects
    for key in ("services", "persistentvolumeclaims"):
        if getattr(counts, key) is not None:
            out[key] = str(getattr(counts, key))
    return dict(sorted(out.items()))


def ingress_annotations(ing) -> dict[str, str]:
    out = dict(ing.annotations)
    if ing.clusterIssuer:
        out[CERT_MANAGER_ISSUER] = ing.clusterIssuer
    if ing.maxBodySize:
        out[BODY_SIZE] = ing.maxBodySize
    return dict(sorted(out.items()))


def tls_secret(ing) -> str | None:
    """cert-manager writes the certificate into the TLS Secret the Ingress names: name one."""
    return ing.tlsSecretName or (DEFAULT_TLS_SECRET if ing.clusterIssuer else None)


def _port_rule(port: int, protocol: str = "TCP") -> dict[str, Any]:
    return {"protocol": protocol, "port": port}


def _destination(host: str) -> list[dict[str, Any]] | None:
    """Where `host` is, as NetworkPolicy peers: an IP block, a Service's namespace, or anywhere."""
    try:
        ip = ipaddress.ip_address(host)
        return [{"ipBlock": {"cidr": f"{ip}/{32 if ip.version == 4 else 128}"}}]
    except ValueError:
        pass
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": parts[1]}}}]
    return None   # a DNS name outside the cluster: only its port can be pinned


def egress_rules(project, db: dict | None, extra_ports: tuple[int, ...] = ()) -> list[dict] | None:
    """The egress allow-list, or None when egress is not restricted."""
    eg = project.spec.policy.egress
    if not eg.enabled:
        return None
    rules: list[dict[str, Any]] = [{"to": [{"podSelector": {}}]}]   # the tenant's own services
    if eg.dns:
        rules.append({"to": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "kube-system"}}}],
            "ports": [_port_rule(53, "UDP"), _port_rule(53, "TCP")]})
    if eg.postgres and db:
        rule: dict[str, Any] = {"ports": [_port_rule(int(db["port"]))]}
        peers = _destination(str(db["host"]))
        if peers is not None:
            rule = {"to": peers, **rule}
        rules.append(rule)
    ports = sorted({443} | set(extra_ports)) if eg.https else sorted(set(extra_ports))
    if ports:
        rules.append({"ports": [_port_rule(p) for p in ports]})
    if eg.cidrs:
        rules.append({"to": [{"ipBlock": {"cidr": c}} for c in eg.cidrs]})
    return rules
