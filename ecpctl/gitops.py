"""Argo CD configuration for rendered manifests: an `Application` per tenant directory, or one
`ApplicationSet` with a git directory generator, written beside the manifests by `render --argocd`.

Each application syncs automatically with prune and self-heal, creates its namespace, and ignores
what ecpctl leaves to others: `spec.replicas` of Deployments an HPA scales, and the data of Secrets
(never rendered; docs/gitops.md). `RespectIgnoreDifferences=true` makes a sync leave those fields
alone too, not only the diff.

Layout: `<out>/<tenant>/...` for the manifests, `<out>/_argocd/` for these objects (a leading
underscore is no DNS label, so no tenant id can take these names), `<out>/_project/` for
Project-level objects such as the fleet dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecpctl.kernel import EcpctlError
from ecpctl.kernel.ownership import MANAGED_BY_KEY, TENANT_LABEL
from providers.kubernetes.render import (
    HEADER,
    RENDERED_ANNOTATION,
    RENDERED_BY,
    RENDERED_NOTE,
    Rendered,
    dump_yaml,
)

ARGOCD_DIR = "_argocd"
PROJECT_DIR = "_project"            # the pseudo-tenant of Project-level resources (ecpctl.fleet)
API_VERSION = "argoproj.io/v1alpha1"
FINALIZER = "resources-finalizer.argocd.argoproj.io"   # deleting an application deletes its objects
SYNC_OPTIONS = ["CreateNamespace=true", "RespectIgnoreDifferences=true"]
HPA_MANAGER = "kube-controller-manager"   # the HPA controller writes replicas through /scale as it
KEYS = {"repoURL": "repo_url", "path": "path", "project": "project", "revision": "revision",
        "namespace": "namespace", "server": "server"}


@dataclass(frozen=True)
class ArgoSettings:
    """`--argocd repoURL=...,path=...[,project=...,revision=...,namespace=...,server=...]`."""

    repo_url: str
    path: str                                   # the rendered directory inside the repository
    project: str = "default"
    revision: str = "HEAD"
    namespace: str = "argocd"                   # where Argo CD runs (and reads Applications)
    server: str = "https://kubernetes.default.svc"
    application_set: bool = False

    @classmethod
    def parse(cls, text: str, *, application_set: bool = False) -> ArgoSettings:
        """Raises ValueError with one line naming the key at fault."""
        got: dict[str, str] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key, eq, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not eq or not value:
                raise ValueError(f"{part!r}: expected key=value")
            if key not in KEYS:
                raise ValueError(f"unknown key {key!r} (known: {', '.join(KEYS)})")
            if KEYS[key] in got:
                raise ValueError(f"{key} given twice")
            got[KEYS[key]] = value
        missing = [k for k in ("repoURL", "path") if KEYS[k] not in got]
        if missing:
            raise ValueError(f"{' and '.join(missing)} required (e.g. repoURL=https://git.example."
                             "com/ecp-manifests.git,path=tenants)")
        got["path"] = got["path"].strip("/")
        if not got["path"] or ".." in got["path"].split("/"):
            raise ValueError(f"path={got['path']!r}: a directory inside the repository")
        return cls(**got, application_set=application_set)


def _meta(name: str, s: ArgoSettings, tenant: str | None) -> dict[str, Any]:
    labels = {MANAGED_BY_KEY: RENDERED_BY, "app.kubernetes.io/part-of": "ecp-ai"}
    if tenant is not None:
        labels[TENANT_LABEL] = tenant
    return {"name": name, "namespace": s.namespace, "labels": dict(sorted(labels.items())),
            "annotations": {RENDERED_ANNOTATION: RENDERED_NOTE}, "finalizers": [FINALIZER]}


def _sync_policy() -> dict[str, Any]:
    return {"automated": {"prune": True, "selfHeal": True}, "syncOptions": list(SYNC_OPTIONS)}


def _app_spec(s: ArgoSettings, path: str, namespace: str,
              ignore: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": s.project,
        "source": {"repoURL": s.repo_url, "targetRevision": s.revision, "path": path},
        "destination": {"server": s.server, "namespace": namespace},
        "syncPolicy": _sync_policy(),
    }
    if ignore:
        spec["ignoreDifferences"] = ignore
    return spec


def _application(name: str, s: ArgoSettings, tenant: str, namespace: str,
                 ignore: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "Application",
            "metadata": _meta(name, s, None if tenant == PROJECT_DIR else tenant),
            "spec": _app_spec(s, f"{s.path}/{tenant}", namespace, ignore)}


def _ignore(facts) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"group": "apps", "kind": "Deployment", "name": name, "namespace": ns,
         "jsonPointers": ["/spec/replicas"]} for ns, name in sorted(facts.scaled)]
    out.extend({"kind": "Secret", "name": name, "namespace": ns,
                "jsonPointers": ["/data", "/stringData"]} for ns, name in sorted(facts.secrets))
    return out


def app_name(tenant: str, prefix: str) -> str:
    return "ecpctl-project" if tenant == PROJECT_DIR else f"{prefix}{tenant}"


def _destination(tenant: str, facts, prefix: str) -> str:
    if facts.namespace:
        return facts.namespace
    if len(facts.namespaces) == 1:
        return next(iter(facts.namespaces))
    return f"{prefix}{tenant}" if tenant != PROJECT_DIR else "default"


def argocd_files(rendered: Rendered, s: ArgoSettings, *, prefix: str) -> dict[str, str]:
    """Relative path (under `_argocd/`) -> file text, for every tenant of `rendered`.

    `prefix` is the Project's namespace prefix: a tenant's namespace, and its Application's name.
    """
    objs: dict[str, dict[str, Any]] = {}
    tenants = sorted(rendered.tenants)
    if s.application_set:
        objs["applicationset.yaml"] = application_set(s, prefix)
        tenants = [t for t in tenants if t.startswith("_")]    # not matched by the generator
    names: dict[str, str] = {}
    for t in tenants:
        facts = rendered.tenants[t]
        name = app_name(t, prefix)
        if name in names:
            raise EcpctlError(f"render --argocd: tenants {names[name]} and {t} would both be "
                              f"Application {name}")
        names[name] = t
        objs[f"{t}.yaml"] = _application(name, s, t, _destination(t, facts, prefix),
                                         _ignore(facts))
    return {f"{ARGOCD_DIR}/{rel}": HEADER + dump_yaml(obj) for rel, obj in objs.items()}


def application_set(s: ArgoSettings, prefix: str) -> dict[str, Any]:
    """One ApplicationSet: an Application per tenant directory that exists at the revision.

    A template cannot list each tenant's HPA-scaled Deployments, so it ignores `spec.replicas`
    where the HPA controller is the field's manager (managedFieldsManagers), which is exactly
    the Deployments an HPA has scaled.
    """
    base = "{{.path.basename}}"
    meta = _meta(f"{prefix}tenants", s, None)
    meta.pop("finalizers")     # the generated Applications carry it; the set's own is not needed
    template_meta = {"name": f"{prefix}{base}",
                     "labels": {MANAGED_BY_KEY: RENDERED_BY, "app.kubernetes.io/part-of": "ecp-ai",
                                TENANT_LABEL: base},
                     "annotations": {RENDERED_ANNOTATION: RENDERED_NOTE},
                     "finalizers": [FINALIZER]}
    ignore = [{"group": "apps", "kind": "Deployment", "managedFieldsManagers": [HPA_MANAGER]},
              {"kind": "Secret", "jsonPointers": ["/data", "/stringData"]}]
    return {
        "apiVersion": API_VERSION, "kind": "ApplicationSet", "metadata": meta,
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"git": {
                "repoURL": s.repo_url, "revision": s.revision,
                "directories": [{"path": f"{s.path}/*"},
                                {"path": f"{s.path}/_*", "exclude": True}]}}],
            "template": {"metadata": template_meta,
                         "spec": _app_spec(s, "{{.path.path}}", f"{prefix}{base}", ignore)},
        },
    }
