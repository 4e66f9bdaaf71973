"""Server-side apply: the PATCH itself (real or dry-run), and field-manager conflicts in words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from providers.kubernetes.client import APPLY_PATCH, KubeClient, KubeError
from providers.kubernetes.kinds import KindInfo
from providers.kubernetes.owned import display_path

_MANAGER_RE = re.compile(r'conflict with "([^"]*)"(?: with subresource "([^"]*)")?')
HANDOVER_MANAGER = "ecpctl-hpa-handover"


@dataclass(frozen=True)
class Conflict:
    manager: str
    subresource: str
    field: str          # the API server's path, e.g. `.spec.template.spec.containers[name="x"].image`

    @property
    def who(self) -> str:
        return f'"{self.manager}" (via /{self.subresource})' if self.subresource else f'"{self.manager}"'


def conflicts_of(err: KubeError) -> list[Conflict]:
    out = []
    for cause in err.causes:
        if cause.get("reason") != "FieldManagerConflict":
            continue
        m = _MANAGER_RE.search(cause.get("message") or "")
        out.append(Conflict(m.group(1) if m else "another manager", (m.group(2) or "") if m else "",
                            cause.get("field") or "?"))
    return out


def describe_conflicts(conflicts: list[Conflict]) -> str:
    """`conflict with field manager "kubectl-edit" over spec.replicas, metadata.labels.x`."""
    by_manager: dict[str, list[str]] = {}
    for c in conflicts:
        by_manager.setdefault(c.who, []).append(display_path(c.field))
    parts = [f"field manager {who} owns {', '.join(fields)}" for who, fields in by_manager.items()]
    return "conflict: " + "; ".join(parts) + " (apply with --force-conflicts to take ownership)"


def apply_manifest(client: KubeClient, info: KindInfo, manifest: Mapping[str, Any], *,
                   manager: str, force: bool, dry_run: bool = False) -> dict:
    md = manifest.get("metadata") or {}
    query = [("fieldManager", manager), ("force", "true" if force else "false")]
    if dry_run:
        query.append(("dryRun", "All"))
    return client.request("PATCH", info.object_path(md["name"], md.get("namespace")),
                          verb="dry-run" if dry_run else "apply", query=query, body=dict(manifest),
                          content_type=APPLY_PATCH) or {}


def replicas_patch(manifest: Mapping[str, Any], replicas: int) -> dict:
    """A partial apply configuration setting only `spec.replicas` (for the HPA hand-over)."""
    md = manifest.get("metadata") or {}
    meta = {"name": md["name"]}
    if md.get("namespace"):
        meta["namespace"] = md["namespace"]
    return {"apiVersion": manifest["apiVersion"], "kind": manifest["kind"], "metadata": meta,
            "spec": {"replicas": replicas}}
