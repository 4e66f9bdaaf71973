"""The marks ecpctl puts on what it manages, shared by the expansion that writes them and the
providers that select on them, and the owner mark that says which state manages an object.

Every object ecpctl creates carries its owner: the workspace and the state lineage whose state
records it (docs/ownership.md). On Kubernetes objects:

  * label `ecp.ai/owner` = `owner_hash(workspace, lineage)`, 16 hex digits (label values are at
    most 63 characters, a workspace plus a lineage UUID are not); a LIST selects one state's
    objects with `owner_selector(owner)`;
  * annotations `ecp.ai/workspace` and `ecp.ai/lineage` with the full values, which are what the
    ownership check reads.

On Postgres roles and databases, a comment `ecpctl owner: workspace=W lineage=L`. On Grafana
dashboards, the tag `ecp.ai/owner:<hash>` and a top-level `ecpctlOwner` field (a folder is owned
through the dashboards it holds); on a tenant's Alertmanager route, a matcher that matches every
value and carries the same text (providers/grafana/marks.py, providers/alertmanager/marks.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGER = "ecpctl"
MANAGED_BY = {MANAGED_BY_KEY: MANAGER}
MANAGED_BY_SELECTOR = f"{MANAGED_BY_KEY}={MANAGER}"
TENANT_LABEL = "ecp.ai/tenant"
# every ecpctl dashboard carries it: the Grafana provider's bulk search uses it
DASHBOARD_TAG = "ecp-ai"

OWNER_LABEL = "ecp.ai/owner"                 # value: owner_hash(workspace, lineage)
OWNER_SELECTOR = OWNER_LABEL                 # "has an owner": every object this version marked
WORKSPACE_ANNOTATION = "ecp.ai/workspace"
LINEAGE_ANNOTATION = "ecp.ai/lineage"
COMMENT_PREFIX = "ecpctl owner:"

_COMMENT = re.compile(r"ecpctl owner: workspace=(?P<ws>\S+) lineage=(?P<lineage>\S*)")


@dataclass(frozen=True)
class Owner:
    """The state that manages an object: a workspace and its lineage (the state's identity, which
    survives renames of nothing but is new whenever a state is created afresh)."""

    workspace: str
    lineage: str

    @property
    def hash(self) -> str:
        return owner_hash(self.workspace, self.lineage)

    def describe(self) -> str:
        lineage = self.lineage or "(none yet)"
        return f"workspace {self.workspace!r} (state lineage {lineage})"

    # --- the forms each system carries -------------------------------------------------------

    def labels(self) -> dict[str, str]:
        return {OWNER_LABEL: self.hash}

    def annotations(self) -> dict[str, str]:
        return {WORKSPACE_ANNOTATION: self.workspace, LINEAGE_ANNOTATION: self.lineage}

    def comment(self) -> str:
        return f"{COMMENT_PREFIX} workspace={self.workspace} lineage={self.lineage}"

    def to_dict(self) -> dict[str, str]:
        return {"workspace": self.workspace, "lineage": self.lineage}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Owner | None:
        if not d or not d.get("workspace"):
            return None
        return cls(str(d["workspace"]), str(d.get("lineage") or ""))


def owner_hash(workspace: str, lineage: str) -> str:
    return hashlib.sha256(f"{workspace}\0{lineage}".encode()).hexdigest()[:16]


def owner_selector(owner: Owner) -> str:
    """The label selector of one state's objects."""
    return f"{OWNER_LABEL}={owner.hash}"


def owner_of_metadata(metadata: Mapping[str, Any] | None) -> Owner | None:
    """The owner recorded on a Kubernetes object's metadata, or None when it has no owner mark."""
    ann = (metadata or {}).get("annotations") or {}
    ws = ann.get(WORKSPACE_ANNOTATION)
    if not ws:
        return None
    return Owner(ws, ann.get(LINEAGE_ANNOTATION) or "")


def owner_of_comment(text: str | None) -> Owner | None:
    """The owner written in a comment (Postgres) or marker field, or None."""
    m = _COMMENT.search(text or "")
    return Owner(m.group("ws"), m.group("lineage")) if m else None
