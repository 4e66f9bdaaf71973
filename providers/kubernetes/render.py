"""Manifests as files for GitOps (Argo CD, Flux): one YAML file per object, one directory per tenant.

Output is byte-for-byte stable: the expansion's key order, no timestamps, files named by apply order,
kind and name. Secret values are never written: each Secret keeps its keys with empty values and the
annotation `ecp.ai/secret-managed-by: ecpctl`, so real values stay out of Git.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from ecpctl.kernel import Resource
from providers.kubernetes.kinds import SECRET_TYPE, SECRET_VALUE_FIELDS, rank, split_type

HEADER = "# Rendered by `ecpctl render` from the tenant specs; edit the specs, not this file.\n"
SECRET_NOTE = ("# Secret values are not rendered: `ecpctl apply` (or your secret manager) writes them.\n")
SECRET_ANNOTATION = "ecp.ai/secret-managed-by"


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


def manifest_for_git(r: Resource) -> tuple[dict[str, Any], bool]:
    """The object to write, with every sensitive value blanked; (object, had secrets)."""
    obj = copy.deepcopy(dict(r.attributes))
    paths = set(r.sensitive)
    if r.type == SECRET_TYPE:
        paths.update(f for f in SECRET_VALUE_FIELDS if f in obj)
    if not paths:
        return obj, False
    for p in sorted(paths):
        _blank_path(obj, p)
    md = obj.setdefault("metadata", {})
    md["annotations"] = {**(md.get("annotations") or {}), SECRET_ANNOTATION: "ecpctl"}
    return obj, True


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


def render_manifests(resources: Iterable[Resource]) -> dict[str, str]:
    """Relative path -> file text for every Kubernetes resource.

    A Deployment that an HPA scales is written without `spec.replicas`, as ecpctl applies it:
    the HPA owns that field, and a GitOps tool re-applying it would fight the HPA.
    """
    kube = [r for r in resources if r.provider == "kubernetes"]
    scaled = _hpa_targets(kube)
    out: dict[str, str] = {}
    for r in sorted(kube, key=lambda r: (r.tenant, file_name(r))):
        obj, secret = manifest_for_git(r)
        md = obj.get("metadata") or {}
        if r.type == "apps/v1.Deployment" and (md.get("namespace"), md.get("name")) in scaled:
            (obj.get("spec") or {}).pop("replicas", None)
        text = HEADER + (SECRET_NOTE if secret else "") + dump_yaml(obj)
        path = f"{r.tenant}/{file_name(r)}"
        if path in out:
            raise ValueError(f"two objects would be rendered to {path}")
        out[path] = text
    return out


def write_tree(files: Mapping[str, str], out_dir: Path, *,
               only: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
    """Write `files` under `out_dir`; remove files an earlier render wrote that are no longer wanted.

    Returns (written or changed paths, removed paths). Only files carrying the render header are
    ever removed, so other files in the directory are left alone; `only` limits the clean-up to
    those tenant directories.
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
    for path in sorted(out_dir.rglob("*.yaml")):
        rel = path.relative_to(out_dir).as_posix()
        if rel in files or (scope is not None and rel.split("/")[0] not in scope):
            continue
        try:
            head = path.read_text(errors="replace")[:len(HEADER)]
        except OSError:
            continue
        if head == HEADER:
            path.unlink()
            removed.append(rel)
    for d in sorted({(out_dir / rel).parent for rel in removed} - {out_dir}, reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    return changed, removed
