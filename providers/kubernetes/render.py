"""Manifests as files for GitOps (Argo CD, Flux): one YAML file per object, one directory per tenant.

Output is byte-for-byte stable: the expansion's key order, no timestamps, files named by apply order,
kind and name, every object spelled out (no anchors or aliases).

Rendered objects are marked as applied by another tool: `app.kubernetes.io/managed-by:
ecpctl-render` (never `ecpctl`, the mark of what `ecpctl apply` owns and the selector of its reads)
and the annotation `ecp.ai/rendered-by`, so that ecpctl never takes them for its own.

Secrets are never written: in a Secret's place goes a file of comments only (no object: Argo CD,
Flux and kubectl skip empty documents) that names the Secret, its namespace and its keys, and says
how it is delivered (docs/gitops.md). Any other sensitive value is blanked.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from ecpctl.kernel import Resource
from ecpctl.kernel.ownership import MANAGED_BY_KEY, MANAGER
from providers.kubernetes.kinds import SECRET_TYPE, SECRET_VALUE_FIELDS, rank, split_type

HEADER = "# Rendered by `ecpctl render` from the tenant specs; edit the specs, not this file.\n"
SECRET_ANNOTATION = "ecp.ai/secret-managed-by"
RENDERED_BY = "ecpctl-render"          # the managed-by value of rendered objects
RENDERED_ANNOTATION = "ecp.ai/rendered-by"
RENDERED_NOTE = "ecpctl render, for a GitOps tool to apply; ecpctl apply does not manage it"
DEPLOYMENT = "apps/v1.Deployment"


class _Representer(RoundTripRepresenter):
    """Plain dicts in their own key order, multi-line strings as literal blocks, and every object
    spelled out: a value met twice is written twice, never as an anchor and an alias, which
    GitOps tools and people reading a diff would have to resolve."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(representer: RoundTripRepresenter, value: str):
    style = "|" if "\n" in value else None
    return representer.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Representer.add_representer(str, _str)


def _yaml() -> YAML:
    y = YAML(typ="rt", pure=True)
    y.Representer = _Representer
    y.default_flow_style = False
    y.allow_unicode = True
    y.width = 4096   # never fold a plain scalar: ruamel leaves a trailing space at each fold
    y.indent(mapping=2, sequence=2, offset=0)
    return y


def dump_yaml(obj: Any) -> str:
    """One object as a YAML document in block style (the text of a rendered file after its header)."""
    buf = io.StringIO()
    _yaml().dump(obj, buf)
    return buf.getvalue()


def _blank(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return ""


def _blank_path(obj: dict, path: str) -> None:
    parts = path.split(".")
    cur: Any = obj
    for p in parts[:-1]:
        cur = cur.get(p) if isinstance(cur, dict) else None
        if cur is None:
            return
    if isinstance(cur, dict) and parts[-1] in cur:
        cur[parts[-1]] = _blank(cur[parts[-1]])


def _remark(value: Any) -> Any:
    """Every `managed-by: ecpctl` (labels, pod template labels, selectors alike) as
    `managed-by: ecpctl-render`, so that selectors keep matching the labels they select."""
    if isinstance(value, dict):
        return {k: (RENDERED_BY if k == MANAGED_BY_KEY and v == MANAGER else _remark(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_remark(v) for v in value]
    return value


def manifest_for_git(r: Resource) -> dict[str, Any]:
    """The object to write: marked as rendered, every sensitive value blanked."""
    obj = _remark(copy.deepcopy(dict(r.attributes)))
    md = obj.setdefault("metadata", {})
    notes = {RENDERED_ANNOTATION: RENDERED_NOTE}
    if r.sensitive:
        for p in sorted(set(r.sensitive)):
            _blank_path(obj, p)
        notes[SECRET_ANNOTATION] = "ecpctl"
    md["annotations"] = {**(md.get("annotations") or {}), **notes}
    return obj


def secret_note(r: Resource) -> str:
    """The comments written in place of a Secret: what must exist, and how it gets there."""
    md = r.attributes.get("metadata") or {}
    keys = sorted({k for f in SECRET_VALUE_FIELDS for k in (r.attributes.get(f) or {})})
    return (f"# Secret {md.get('name')} (namespace {md.get('namespace')}) is not rendered: its "
            "values never go to Git.\n"
            f"# Keys it holds: {', '.join(keys) or '(none)'}.\n"
            "# Deliver it with your secrets operator (for example an ExternalSecret whose target is\n"
            "# this name) or `kubectl create secret`, before the services that read it start.\n"
            "# The Argo CD Applications of `ecpctl render --argocd` ignore differences in its\n"
            "# data. See docs/gitops.md.\n")


def file_name(r: Resource) -> str:
    _, kind = split_type(r.type)
    return f"{rank(kind):02d}-{kind.lower()}-{r.name}.yaml"


def _hpa_targets(resources: Iterable[Resource]) -> set[tuple[str | None, str]]:
    out = set()
    for r in resources:
        if r.type == "autoscaling/v2.HorizontalPodAutoscaler":
            ref = (r.attributes.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") == "Deployment":
                out.add(((r.attributes.get("metadata") or {}).get("namespace"), ref.get("name")))
    return out


@dataclass
class TenantFacts:
    """What a GitOps tool's configuration needs to know of one rendered directory."""

    namespace: str | None = None                       # the tenant's Namespace object, if any
    namespaces: set[str] = field(default_factory=set)  # namespaces its objects live in
    scaled: list[tuple[str, str]] = field(default_factory=list)    # (ns, Deployment) an HPA scales
    secrets: list[tuple[str, str]] = field(default_factory=list)   # (ns, Secret) left out


@dataclass
class Rendered:
    files: dict[str, str]                  # relative path -> text
    tenants: dict[str, TenantFacts]        # directory (tenant id) -> facts


def render_tree(resources: Iterable[Resource]) -> Rendered:
    """Every Kubernetes resource as a file, and the facts of each tenant directory.

    A Deployment that an HPA scales is written without `spec.replicas`, as ecpctl applies it:
    the HPA owns that field, and a GitOps tool re-applying it would fight the HPA.
    """
    kube = [r for r in resources if r.provider == "kubernetes"]
    scaled = _hpa_targets(kube)
    out: dict[str, str] = {}
    facts: dict[str, TenantFacts] = {}
    for r in sorted(kube, key=lambda r: (r.tenant, file_name(r))):
        f = facts.setdefault(r.tenant, TenantFacts())
        md = r.attributes.get("metadata") or {}
        ns, name = md.get("namespace"), md.get("name")
        if r.type == "v1.Namespace":
            f.namespace = name
        if ns:
            f.namespaces.add(ns)
        if r.type == SECRET_TYPE:
            f.secrets.append((ns, name))
            text = HEADER + secret_note(r)
        else:
            obj = manifest_for_git(r)
            if r.type == DEPLOYMENT and (ns, name) in scaled:
                (obj.get("spec") or {}).pop("replicas", None)
                f.scaled.append((ns, name))
            text = HEADER + dump_yaml(obj)
        path = f"{r.tenant}/{file_name(r)}"
        if path in out:
            raise ValueError(f"two objects would be rendered to {path}")
        out[path] = text
    return Rendered(out, facts)


def render_manifests(resources: Iterable[Resource]) -> dict[str, str]:
    """Relative path -> file text for every Kubernetes resource (see `render_tree`)."""
    return render_tree(resources).files


def _in_scope(rel: str, scope: set[str] | None, keep: Iterable[str]) -> bool:
    top = rel.split("/")[0]
    return top not in keep and (scope is None or rel in scope or top in scope)


def _rendered_files(out_dir: Path) -> Iterable[str]:
    """Relative paths of the files under out_dir that a render wrote (they start with HEADER)."""
    if not out_dir.is_dir():
        return
    for path in sorted(out_dir.rglob("*.yaml")):
        try:
            with path.open("rb") as fh:
                head = fh.read(len(HEADER.encode()))
        except OSError:
            continue
        if head == HEADER.encode():
            yield path.relative_to(out_dir).as_posix()


def check_tree(files: Mapping[str, str], out_dir: Path, *, only: Iterable[str] | None = None,
               keep: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(path, how it differs) for each file where out_dir is not what `write_tree` would leave:
    "differs", "missing", or "not rendered any more" (a rendered file write_tree would remove)."""
    scope = set(only) if only is not None else None
    out: list[tuple[str, str]] = []
    for rel, text in sorted(files.items()):
        path = out_dir / rel
        try:
            data = path.read_bytes() if path.is_file() else None
        except OSError:
            data = None
        if data is None:
            out.append((rel, "missing"))
        elif data != text.encode():
            out.append((rel, "differs"))
    out.extend((rel, "not rendered any more") for rel in _rendered_files(out_dir)
               if rel not in files and _in_scope(rel, scope, keep))
    return sorted(out)


def write_tree(files: Mapping[str, str], out_dir: Path, *, only: Iterable[str] | None = None,
               keep: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """Write `files` under `out_dir`; remove files an earlier render wrote that are no longer wanted.

    Returns (written or changed paths, removed paths). Only files carrying the render header are
    ever removed, so other files in the directory are left alone; `only` limits the clean-up to
    those tenant directories (or exact relative paths), and directories in `keep` are never
    cleaned up.
    """
    scope = set(only) if only is not None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    for rel, text in sorted(files.items()):
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            changed.append(rel)
    removed: list[str] = []
    for rel in list(_rendered_files(out_dir)):
        if rel in files or not _in_scope(rel, scope, keep):
            continue
        (out_dir / rel).unlink()
        removed.append(rel)
    for d in sorted({(out_dir / rel).parent for rel in removed} - {out_dir}, reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    return changed, removed
